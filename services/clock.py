"""The data plane's clock: every "now" (a read's instant, a write's) comes from here."""

from __future__ import annotations

from datetime import UTC, datetime


def now_utc() -> datetime:
    """The current instant, timezone-aware in UTC."""
    return datetime.now(UTC)
