"""``skewless training-set`` refuses the entity rows serving refuses, in one line naming the row.

A parquet column keeps its values: a string ``'1001'`` is no Int64 key, and request data is
checked against its contract (type and range) as ``services.online.requests`` checks a request.
Only CSV is text, read as the declared types.
"""

from __future__ import annotations

import re
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from services.cli import app
from services.errors import EntityKeyError, InputError, RequestError
from services.settings import Settings
from services.store import Store, load_definitions

runner = CliRunner()
SERVICE = "fraud_detection_v1"


@pytest.fixture
def applied(sqlite_settings: Settings) -> Settings:
    store = Store(sqlite_settings)
    store.apply(load_definitions(sqlite_settings.repo_path))
    store.close()
    return sqlite_settings


def _rows(**columns: list[Any]) -> pd.DataFrame:
    base: dict[str, list[Any]] = {
        "customer_id": [1, 2],
        "merchant_id": [1, 2],
        "event_timestamp": [pd.Timestamp("2026-01-01", tz="UTC")] * 2,
        "transaction_amount": [12.5, 30.0],
    }
    return pd.DataFrame({**base, **columns})


def _refused(entities: Path, tmp_path: Path, *said: str) -> str:
    out = tmp_path / "train.parquet"
    r = runner.invoke(
        app, ["training-set", "--service", SERVICE, "--entities", str(entities), "--out", str(out)]
    )
    assert r.exit_code == 2, (r.output, r.exception)
    lines = r.output.strip().splitlines()
    assert len(lines) == 1, r.output
    for text in said:
        assert text in lines[0], (text, lines[0])
    assert not out.exists()
    return lines[0]


def test_the_entity_frame_builds(applied: Settings, tmp_path: Path) -> None:
    """The checks below refuse the bad value, not the frame around it."""
    _rows().to_parquet(tmp_path / "good.parquet")
    out = tmp_path / "train.parquet"
    args = ["--entities", str(tmp_path / "good.parquet"), "--out", str(out)]
    r = runner.invoke(app, ["training-set", "--service", SERVICE, *args])
    assert r.exit_code == 0, r.output
    assert len(pd.read_parquet(out)) == 2


def test_a_bad_timestamp_is_one_line_naming_its_row(applied: Settings, tmp_path: Path) -> None:
    entities = tmp_path / "entities.csv"
    entities.write_text(
        "customer_id,merchant_id,event_timestamp,transaction_amount\n"
        "1,1,2026-01-01T00:00:00Z,12.5\n"
        "2,2,yesterday,30.0\n"
    )
    _refused(entities, tmp_path, "'event_timestamp'", "row 1", "'yesterday'", "ISO 8601")


def test_string_keys_in_parquet_are_refused_as_serving_refuses_them(
    applied: Settings, tmp_path: Path
) -> None:
    entities = tmp_path / "entities.parquet"
    _rows(customer_id=["1001", "1002"]).to_parquet(entities)
    _refused(entities, tmp_path, "'customer_id'", "row 0", "'1001'")


@pytest.mark.parametrize(
    ("amounts", "said"),
    [
        (["12.5", "30.0"], ["row 0", "'12.5'"]),  # text is no Float64 in parquet
        ([12.5, -1.0], ["row 1", "outside the contract range"]),  # the contract says ge=0
    ],
)
def test_request_data_is_checked_as_serving_checks_it(
    applied: Settings, tmp_path: Path, amounts: list[Any], said: list[str]
) -> None:
    entities = tmp_path / "entities.parquet"
    _rows(transaction_amount=amounts).to_parquet(entities)
    _refused(entities, tmp_path, "request data 'transaction_amount'", *said)


def test_a_request_value_outside_the_contract_is_refused_online_too(applied: Settings) -> None:
    online = ["online", "--service", SERVICE, "--entity", "customer_id=1"]
    r = runner.invoke(app, [*online, "--request", "transaction_amount=-1.0"])
    assert r.exit_code == 2, r.output
    assert "row 0: -1.0 outside the contract range" in r.output


def test_csv_request_data_of_the_wrong_type_is_named_as_request_data(
    applied: Settings, tmp_path: Path
) -> None:
    entities = tmp_path / "entities.csv"
    entities.write_text(
        "customer_id,merchant_id,event_timestamp,transaction_amount\n"
        "1,1,2026-01-01T00:00:00Z,twelve\n"
    )
    _refused(entities, tmp_path, "request data 'transaction_amount'", "row 0", "'twelve'")


# ------------------------------------------------- the Python API's entity frames and names
def _sdk(settings: Settings, entities: Any, **kwargs: Any) -> pd.DataFrame:
    from services.sdk import Client

    with Client(settings) as client:
        frame, _ = client.training_set(entities, SERVICE, **kwargs)
    return frame


def test_a_null_entity_time_is_refused_naming_its_row(applied: Settings) -> None:
    """A NaT used to give its row every feature null, recorded in the version as data."""
    rows = _rows(event_timestamp=[pd.Timestamp("2026-01-01", tz="UTC"), pd.NaT])
    with pytest.raises(EntityKeyError, match=r"'event_timestamp': row 1: null"):
        _sdk(applied, rows)


def test_aware_times_of_several_offsets_are_read_as_utc(applied: Settings) -> None:
    """A driver's answer across a DST change: aware datetimes, two offsets, dtype object."""
    utc = [pd.Timestamp("2026-03-29 00:30", tz="UTC"), pd.Timestamp("2026-03-29 01:30", tz="UTC")]
    offsets = [timezone(timedelta(hours=1)), timezone(timedelta(hours=2))]
    local = [t.to_pydatetime().astimezone(z) for t, z in zip(utc, offsets, strict=True)]
    mixed = _rows(event_timestamp=local)
    assert mixed["event_timestamp"].dtype == object
    expected = _sdk(applied, _rows(event_timestamp=utc))
    pd.testing.assert_frame_equal(_sdk(applied, mixed), expected)


@pytest.mark.parametrize(
    ("entities", "said"),
    [
        ({"customer_id": [1]}, "must be a pandas DataFrame, not dict"),
        (_rows().rename(columns={"merchant_id": "customer_id"}), "['customer_id'] more than once"),
    ],
    ids=["dict", "duplicate-column"],
)
def test_an_entity_frame_that_is_no_frame_is_one_error(
    applied: Settings, entities: Any, said: str
) -> None:
    with pytest.raises(RequestError, match=re.escape(said)):
        _sdk(applied, entities)


@pytest.mark.parametrize("name", ["../../escape", "..", "/tmp/elsewhere", "a/b", "  "])
def test_a_training_set_name_that_is_a_path_writes_nothing(
    applied: Settings, tmp_path: Path, name: str
) -> None:
    """``name="../../x"`` wrote its parquet outside the data dir, then failed in lineage."""
    before = {p for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(InputError, match="invalid training set name"):
        _sdk(applied, _rows(), name=name)
    assert {p for p in tmp_path.rglob("*") if p.is_file()} == before
    assert not Path("/tmp/elsewhere").exists()
    _rows().to_parquet(tmp_path / "good.parquet")
    out = tmp_path / "train.parquet"
    args = ["--entities", str(tmp_path / "good.parquet"), "--out", str(out), "--name", name]
    r = runner.invoke(app, ["training-set", "--service", SERVICE, *args])
    assert r.exit_code == 2, (r.output, r.exception)
    assert r.output.strip().startswith("error: invalid training set name"), r.output
    assert not out.exists()
