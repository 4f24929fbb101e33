"""Feast definitions of the benchmark domain (Skewless side): entity, two views, one service."""

from __future__ import annotations

from feast import Entity, FeatureService, FeatureView, FileSource, ValueType

from bench.contracts import OWNER, BenchUserProfile, BenchUserStats
from services.contracts import SourceContract
from services.contracts.schema import feast_fields, schema_fingerprint, source_spec
from services.settings import get_settings

user = Entity(
    name="user",
    join_keys=["user_id"],
    value_type=ValueType.INT64,
    owner=OWNER,
    description="A benchmark user.",
)


def _view(contract: type[SourceContract]) -> FeatureView:
    spec = source_spec(contract)
    tags = {"contract": spec.name, "schema": schema_fingerprint(contract)}
    source = FileSource(
        name=spec.name,
        path=str((get_settings().offline_dir / spec.name).resolve()),
        timestamp_field="event_timestamp",
        created_timestamp_column="created_timestamp",
        owner=spec.owner,
        description=spec.description,
        tags=tags,
    )
    return FeatureView(
        name=spec.name,
        entities=[user],
        ttl=spec.ttl,
        schema=feast_fields(contract),
        source=source,
        online=True,
        owner=spec.owner,
        description=spec.description,
        tags=tags,
    )


bench_user_stats = _view(BenchUserStats)
bench_user_profile = _view(BenchUserProfile)

bench_service = FeatureService(
    name="bench_service",
    features=[bench_user_stats, bench_user_profile],
    owner=OWNER,
    description="Every benchmark feature: 20 stats + 5 profile = 25 features.",
)
