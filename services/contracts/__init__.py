"""Contract machinery: how a repository's Pandera contracts map to Feast, Arrow and checks.

A repository defines one ``SourceContract`` subclass per source (``Config.name`` is the
Feast data source's name). Feast ``Field`` lists, the Arrow schema of every dataset version
and the validation schema are all generated from it (see :mod:`services.contracts.schema`).
Nothing here names a domain: the platform finds a repository's contracts by loading it
(:mod:`services.repository`).
"""

from typing import Annotated

import pandas as pd

from services.contracts.base import ColumnSpec, Policy, SourceContract, SourceSpec
from services.contracts.types import FieldType, parse_type

# The dtype of a timestamp column in a contract: nanosecond pandas timestamps in UTC.
UtcTimestamp = Annotated[pd.DatetimeTZDtype, "ns", "UTC"]

__all__ = [
    "ColumnSpec",
    "FieldType",
    "Policy",
    "SourceContract",
    "SourceSpec",
    "UtcTimestamp",
    "parse_type",
]
