"""Feast sources and feature views built from a contract, for any feature repository.

Names, paths, ttl, owner, description, fields and the contract/fingerprint tags the
governance lint checks all come from the contract, so a repo cannot drift from it.
"""

from __future__ import annotations

from pathlib import Path

from feast import Entity, FeatureView, FileSource

from services.contracts.base import SourceContract
from services.contracts.schema import feast_fields, schema_fingerprint, source_spec


def contract_source(contract: type[SourceContract], offline_dir: Path) -> FileSource:
    """The file source over every dataset version of the contract's source."""
    spec = source_spec(contract)
    return FileSource(
        name=spec.name,
        path=str((offline_dir / spec.name).resolve()),
        timestamp_field="event_timestamp",
        created_timestamp_column="created_timestamp",
        owner=spec.owner,
        description=spec.description,
        tags={"contract": spec.name, "schema": schema_fingerprint(contract)},
    )


def contract_view(
    contract: type[SourceContract], entity: Entity, source: FileSource
) -> FeatureView:
    """The batch feature view of a contract: every feature, its ttl and freshness SLO."""
    spec = source_spec(contract)
    return FeatureView(
        name=spec.name,
        entities=[entity],
        ttl=spec.ttl,
        schema=feast_fields(contract),
        source=source,
        online=True,
        owner=spec.owner,
        description=spec.description,
        tags={
            "contract": spec.name,
            "schema": schema_fingerprint(contract),
            "freshness_slo_seconds": str(int(spec.freshness_slo.total_seconds())),
        },
    )
