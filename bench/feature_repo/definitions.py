"""Feast definitions of the benchmark domain (Skewless side): entity, two views, one service."""

from __future__ import annotations

from feast import Entity, FeatureService, FeatureView, ValueType

from bench.contracts import OWNER, BenchUserProfile, BenchUserStats
from services.contracts import SourceContract
from services.contracts.feast_objects import contract_source, contract_view
from services.settings import get_settings

user = Entity(
    name="user",
    join_keys=["user_id"],
    value_type=ValueType.INT64,
    owner=OWNER,
    description="A benchmark user.",
)


def _view(contract: type[SourceContract]) -> FeatureView:
    source = contract_source(contract, get_settings().offline_dir)
    return contract_view(contract, user, source)


bench_user_stats = _view(BenchUserStats)
bench_user_profile = _view(BenchUserProfile)

bench_service = FeatureService(
    name="bench_service",
    features=[bench_user_stats, bench_user_profile],
    owner=OWNER,
    description="Every benchmark feature: 20 stats + 5 profile = 25 features.",
)
