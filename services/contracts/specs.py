"""What the platform knows about a contract's columns and source, as plain values.

:class:`ColumnSpec` and :class:`SourceSpec` are what :mod:`services.contracts.schema` reads
out of a contract; they hold no Pandera object, so code that only serves values (the
``skewless online`` fast path, a serving plan) uses them without importing Pandera.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from services.contracts.types import FieldType

Policy = Literal["reject", "quarantine"]
Role = Literal["entity", "event_timestamp", "created_timestamp", "feature", "request"]

EVENT_TIMESTAMP = "event_timestamp"
CREATED_TIMESTAMP = "created_timestamp"


@dataclass(frozen=True)
class ColumnSpec:
    """Everything the platform needs to know about one contract column."""

    name: str
    type: FieldType
    nullable: bool
    description: str
    owner: str
    role: Role
    pii: bool = False
    classification: str | None = None
    allowed: tuple[Any, ...] | None = None
    ge: float | None = None
    le: float | None = None
    element_ge: float | None = None
    element_le: float | None = None
    drift_threshold: float | None = None
    # Naive times in this timestamp column are UTC (metadata ``naive="UTC"``); otherwise a time
    # without a zone is refused, never guessed.
    naive_utc: bool = False

    @property
    def kind(self) -> str:
        """The type as Feast writes it (``Int64``, ``Array(Float32)``): used in reasons."""
        return str(self.type)


@dataclass(frozen=True)
class SourceSpec:
    """Source-level facts from a contract's ``Config``."""

    name: str
    description: str
    owner: str
    keys: tuple[str, ...]
    event_timestamp: str
    created_timestamp: str | None
    ttl: timedelta
    cadence: timedelta
    default_policy: Policy
    freshness_slo: timedelta


def output_dtype(spec: ColumnSpec) -> str:
    """The pandas dtype of a feature in a retrieved frame, where any value may be null."""
    return spec.type.pandas_dtype(nullable=True)
