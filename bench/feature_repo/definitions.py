"""Feast definitions of the benchmark domain (Skewless side): entities, views, services.

``bench_service`` (Int64 users, 25 features) feeds the main rows; ``bench_item_service``
(String-keyed items: a 64-float embedding and 10 scalars) feeds the embedding rows.
"""

from __future__ import annotations

from feast import Entity, FeatureService, FeatureView, ValueType

from bench.contracts import (
    OWNER,
    BenchItemEmbedding,
    BenchUserActivity,
    BenchUserProfile,
    BenchUserStats,
)
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
item = Entity(
    name="item",
    join_keys=["item_id"],
    value_type=ValueType.STRING,
    owner=OWNER,
    description="A benchmark catalogue item, identified by a UUID.",
)


def _view(contract: type[SourceContract], entity: Entity = user) -> FeatureView:
    source = contract_source(contract, get_settings().offline_dir)
    return contract_view(contract, entity, source)


# The activity source is ingested (validation benchmark) but served by no view.
ingest_only = (BenchUserActivity,)

bench_user_stats = _view(BenchUserStats)
bench_user_profile = _view(BenchUserProfile)
bench_item_embedding = _view(BenchItemEmbedding, item)

bench_service = FeatureService(
    name="bench_service",
    features=[bench_user_stats, bench_user_profile],
    owner=OWNER,
    description="Every benchmark feature: 20 stats + 5 profile = 25 features.",
)
bench_item_service = FeatureService(
    name="bench_item_service",
    features=[bench_item_embedding],
    owner=OWNER,
    description="The item embedding and its 10 catalogue scalars (String key).",
)
