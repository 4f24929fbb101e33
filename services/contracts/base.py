"""The base class every source contract derives from, and its column metadata.

A contract is a Pandera ``DataFrameModel`` that a repository defines for each of its
sources (``Config.name`` is the Feast data source's name). ``Config.metadata`` names the
source's owner, ingest cadence, default policy and freshness SLO; each
``Field(metadata=...)`` carries the column's role, owner, PII tag and classification, and for
a column Pandera cannot type by itself (``Series[object]``) its Feast type:

    embedding: Series[object] = pa.Field(nullable=True, description="...",
        metadata={"type": "Array(Float32)", "length": 64, "element_ge": -1, "element_le": 1})

Roles: ``entity`` (a join key column), ``event_timestamp``, ``created_timestamp``,
``feature`` (the default) and ``request`` (a request source's field).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import pandera.pandas as pa

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


class SourceContract(pa.DataFrameModel):
    """Base for every source contract: strict columns, lazy-validated."""

    class Config:
        strict = True
        coerce = False
