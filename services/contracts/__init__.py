"""Contract machinery: how a repository's Pandera contracts map to Feast, Arrow and checks.

A repository defines one ``SourceContract`` subclass per source (``Config.name`` is the
Feast data source's name). Feast ``Field`` lists, the Arrow schema of every dataset version
and the validation schema are all generated from it (see :mod:`services.contracts.schema`).
``SourceContract`` (a Pandera model) is imported on first use, so code that only reads plain
specs and types (serving from a plan) never imports Pandera. Nothing here names a domain: the
platform finds a repository's contracts by loading it (:mod:`services.repository`).
"""

from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd

from services.contracts.specs import ColumnSpec, Policy, SourceSpec
from services.contracts.types import FieldType, parse_type

if TYPE_CHECKING:
    from services.contracts.base import SourceContract

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


def __getattr__(name: str) -> Any:
    """``SourceContract``, imported with Pandera on first use (see the module docstring)."""
    if name == "SourceContract":
        from services.contracts.base import SourceContract

        return SourceContract
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
