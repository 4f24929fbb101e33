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

import pandera.pandas as pa

from services.contracts.specs import (
    CREATED_TIMESTAMP,
    EVENT_TIMESTAMP,
    ColumnSpec,
    Policy,
    Role,
    SourceSpec,
)

__all__ = [
    "CREATED_TIMESTAMP",
    "EVENT_TIMESTAMP",
    "ColumnSpec",
    "Policy",
    "Role",
    "SourceContract",
    "SourceSpec",
]


class SourceContract(pa.DataFrameModel):
    """Base for every source contract: strict columns, lazy-validated."""

    class Config:
        strict = True
        coerce = False
