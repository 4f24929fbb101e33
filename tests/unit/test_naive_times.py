"""A time without a zone is refused, unless the contract says its column's naive times are UTC."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
import pytest
from pandera.typing import Series

from services.contracts import SourceContract, UtcTimestamp
from services.contracts.schema import column_specs
from services.errors import ContractError
from services.ingestion.conform import Failures, conform


class Strict(SourceContract):
    """Rides with times that must carry their zone."""

    ride_id: Series[int] = pa.Field(description="Ride.", metadata={"role": "entity"})
    event_timestamp: Series[UtcTimestamp] = pa.Field(
        description="When.", metadata={"role": "event_timestamp"}
    )
    fare: Series[float] = pa.Field(description="Fare.")

    class Config:
        name = "strict_rides"
        description = "Rides."
        metadata = {"owner": "rides@example.com"}


class NaiveUtc(SourceContract):
    """The same rides, written by a producer whose times are UTC without saying so."""

    ride_id: Series[int] = pa.Field(description="Ride.", metadata={"role": "entity"})
    event_timestamp: Series[UtcTimestamp] = pa.Field(
        description="When.", metadata={"role": "event_timestamp", "naive": "UTC"}
    )
    fare: Series[float] = pa.Field(description="Fare.")

    class Config:
        name = "naive_rides"
        description = "Rides."
        metadata = {"owner": "rides@example.com"}


NAIVE = pd.Series(pd.to_datetime(["2026-01-01 10:00:00", "2026-06-01 23:30:15"]))
AWARE = NAIVE.dt.tz_localize("UTC").astype("datetime64[ns, UTC]")


def _frame(times: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"ride_id": [1, 2], "event_timestamp": times, "fare": [3.5, 7.25]})


@pytest.mark.parametrize(
    "times",
    [
        NAIVE,  # datetime64 without a zone, as Feast's own template data has
        NAIVE.dt.strftime("%Y-%m-%dT%H:%M:%S").astype(object),  # ISO text without a zone
        pd.Series(["2026-01-01T10:00:00Z", "2026-06-01T23:30:15"], dtype=object),  # mixed
    ],
)
def test_a_naive_utc_column_reads_naive_times_as_utc(times: pd.Series) -> None:
    failures = Failures()
    typed = conform(_frame(times), NaiveUtc, failures, text=times.dtype == object)
    assert failures.reasons == {}
    pd.testing.assert_series_equal(typed["event_timestamp"], AWARE, check_names=False)


def test_elsewhere_a_naive_time_is_refused_row_by_row() -> None:
    failures = Failures()
    conform(_frame(NAIVE), Strict, failures)
    assert sorted(failures.reasons) == [0, 1]
    assert {r["check"] for rows in failures.reasons.values() for r in rows} == {
        "timestamp_not_tz_aware"
    }


def test_the_declaration_reaches_the_column_spec() -> None:
    assert {c.name: c for c in column_specs(NaiveUtc)}["event_timestamp"].naive_utc
    assert not {c.name: c for c in column_specs(Strict)}["event_timestamp"].naive_utc


@pytest.mark.parametrize(("column", "naive"), [("event_timestamp", "CET"), ("fare", "UTC")])
def test_naive_is_utc_or_nothing_and_only_on_times(column: str, naive: str) -> None:
    with pytest.raises(ContractError, match=f"column '{column}': metadata naive"):
        column_specs(_with_naive(column, naive))


def _with_naive(column: str, naive: str) -> type[SourceContract]:
    """The rides contract with ``naive`` declared on ``column``."""
    meta = {"ride_id": {"role": "entity"}, "event_timestamp": {"role": "event_timestamp"}}
    meta.setdefault(column, {})["naive"] = naive
    body = {
        "__annotations__": {
            "ride_id": Series[int],
            "event_timestamp": Series[UtcTimestamp],
            "fare": Series[float],
        },
        **{
            name: pa.Field(description=name, metadata=meta.get(name, {}))
            for name in ("ride_id", "event_timestamp", "fare")
        },
        "Config": type(
            "Config",
            (),
            {
                "name": f"bad_{column}",
                "description": "Rides.",
                "metadata": {"owner": "rides@example.com"},
            },
        ),
    }
    return type(f"Bad{column.title()}", (SourceContract,), body)
