"""What a query time is, for the HTTP API and the CLI alike: ISO-8601 text, never a number.

Kept out of ``lineage.api`` so that a CLI time option does not import the web app to parse it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import BeforeValidator

# RFC 3339's date-time, with the offset optional (a time without one is read as UTC). Pydantic
# alone would also take "0.5" or "1700000000" as a Unix time and "2026-12-01" as midnight.
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})?"
)


def _date_time_text(value: object) -> object:
    if isinstance(value, str) and _DATE_TIME.fullmatch(value):
        return value
    raise ValueError("an ISO-8601 date-time such as 2026-12-01T10:00:00Z is required")


IsoDateTime = Annotated[datetime, BeforeValidator(_date_time_text)]
"""A query time: ISO-8601 text only, never a number (naive means UTC)."""
