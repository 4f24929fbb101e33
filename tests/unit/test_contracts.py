"""Contracts are the single source: Feast fields and Arrow schemas are generated from them."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
import pytest
from pandera.typing import Series

from services.contracts import SourceContract
from services.contracts.schema import arrow_schema, column_specs, feast_fields, feature_specs
from services.errors import ContractError, UnknownSourceError
from tests.demo_repo import demo_repository

CONTRACTS = {n: demo_repository().contracts[n] for n in demo_repository().batch_sources()}


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_feast_fields_and_arrow_schema_follow_the_contract(name: str) -> None:
    contract = CONTRACTS[name]
    specs = column_specs(contract)
    schema = arrow_schema(contract)
    assert schema.names == [c.name for c in specs]
    fields = feast_fields(contract)
    assert [f.name for f in fields] == [c.name for c in feature_specs(contract)]
    for field, spec in zip(fields, feature_specs(contract), strict=True):
        assert field.description == spec.description
        assert field.description
        assert field.tags["owner"] == spec.owner
    kinds = {
        "Int64": pa_arrow.int64(),
        "Float64": pa_arrow.float64(),
        "String": pa_arrow.string(),
        "Bool": pa_arrow.bool_(),
    }
    for spec in feature_specs(contract):
        assert schema.field(spec.name).type == kinds[spec.kind]
    for ts in ("event_timestamp", "created_timestamp"):
        assert schema.field(ts).type == pa_arrow.timestamp("us", tz="UTC")


def test_pii_fields_carry_a_classification() -> None:
    contracts = demo_repository().contracts
    pii = [(n, s) for n, c in contracts.items() for s in column_specs(c) if s.pii]
    assert pii, "the demo domain must have a PII field"
    for _, spec in pii:
        assert spec.classification


def test_an_unmapped_dtype_fails_loudly() -> None:
    class Bad(SourceContract):
        when: Series[pd.Timedelta] = pa.Field(description="not mappable")

        class Config:
            name = "bad"
            metadata = {"owner": "x"}

    with pytest.raises(ContractError, match="when"):
        column_specs(Bad)


def test_unknown_source_names_the_known_ones() -> None:
    with pytest.raises(UnknownSourceError, match="customer_profile"):
        demo_repository().contract("nope")
