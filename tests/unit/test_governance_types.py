"""The lint names, one line each, a type Skewless cannot store and a contract that disagrees."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandera.pandas as pa
from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.types import Array, Float32, Int64, String, Uuid
from pandera.typing import Series

from services.contracts import SourceContract, UtcTimestamp
from services.governance import lint
from services.store import Definitions

OWNER = "team@example.com"


class Events(SourceContract):
    user_id: Series[str] = pa.Field(description="User.", metadata={"role": "entity"})
    event_timestamp: Series[UtcTimestamp] = pa.Field(
        description="Event time.", metadata={"role": "event_timestamp"}
    )
    score: Series[np.float32] = pa.Field(description="A score.")
    embedding: Series[object] = pa.Field(
        description="An embedding.", metadata={"type": "Array(Float32)", "length": 4}
    )

    class Config:
        name = "events"
        description = "Events."
        metadata = {"owner": OWNER}


def _definitions(key_type: ValueType, fields: list[Field]) -> Definitions:
    user = Entity(
        name="user", join_keys=["user_id"], value_type=key_type, owner=OWNER, description="A user."
    )
    source = FileSource(
        name="events",
        path="x.parquet",
        timestamp_field="event_timestamp",
        owner=OWNER,
        description="Events.",
    )
    view = FeatureView(
        name="events",
        entities=[user],
        ttl=timedelta(days=1),
        schema=fields,
        source=source,
        owner=OWNER,
        description="Events per user.",
    )
    return Definitions(entities=[user], data_sources=[source], feature_views=[view])


def _field(name: str, dtype: object) -> Field:
    return Field(name=name, dtype=dtype, description="d")  # type: ignore[arg-type]


def test_a_view_that_agrees_with_its_contract_passes() -> None:
    defs = _definitions(
        ValueType.STRING, [_field("score", Float32), _field("embedding", Array(Float32))]
    )
    assert lint(defs, {"events": Events}) == []


def test_a_type_feast_has_but_skewless_does_not_store_is_named() -> None:
    defs = _definitions(ValueType.STRING, [_field("score", Float32), _field("id", Uuid)])
    problems = lint(defs, {"events": Events})
    assert any(
        p.startswith("feature_view 'events' field 'id': Feast type") and "not supported" in p
        for p in problems
    ), problems


def test_a_field_or_key_type_that_disagrees_with_the_contract_is_named() -> None:
    defs = _definitions(ValueType.INT64, [_field("score", Int64), _field("embedding", String)])
    problems = lint(defs, {"events": Events})
    assert (
        "feature_view 'events' field 'score': Int64 in Feast but Float32 in contract 'events'"
        in problems
    )
    assert (
        "feature_view 'events' field 'embedding': String in Feast but Array(Float32) in "
        "contract 'events'" in problems
    )
    assert "entity 'user': join key 'user_id' is Int64 but String in contract 'events'" in problems


def test_a_source_without_a_contract_is_named() -> None:
    defs = _definitions(ValueType.STRING, [_field("score", Float32)])
    assert lint(defs, {}) == [
        "feature_view 'events': source 'events' has no contract (run `skewless contracts "
        "infer`, or define a SourceContract with that name)"
    ]
