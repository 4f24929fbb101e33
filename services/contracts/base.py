"""The base class every source contract derives from, and its column metadata.

A contract is a Pandera ``DataFrameModel`` whose ``Config.metadata`` names the
source's owner, entity, ttl, ingest cadence and default policy, and whose
``Field(metadata=...)`` carries each column's owner, PII tag and classification.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import pandera.pandas as pa

Policy = Literal["reject", "quarantine"]
Kind = Literal["int", "float", "string", "bool", "timestamp"]

EVENT_TIMESTAMP = "event_timestamp"
CREATED_TIMESTAMP = "created_timestamp"


@dataclass(frozen=True)
class ColumnSpec:
    """Everything the platform needs to know about one contract column."""

    name: str
    kind: Kind
    nullable: bool
    description: str
    owner: str
    role: Literal["entity", "timestamp", "feature", "request"]
    pii: bool = False
    classification: str | None = None
    allowed: tuple[Any, ...] | None = None
    ge: float | None = None
    le: float | None = None
    drift_threshold: float | None = None


@dataclass(frozen=True)
class SourceSpec:
    """Source-level facts from a contract's ``Config.metadata``."""

    name: str
    description: str
    owner: str
    entity: str | None
    join_key: str | None
    ttl: timedelta
    cadence: timedelta
    default_policy: Policy
    freshness_slo: timedelta


class SourceContract(pa.DataFrameModel):
    """Base for every source contract: strict columns, lazy-validated."""

    class Config:
        strict = True
        coerce = False
