"""The ingestion gate: exit codes, reasons, quarantine, idempotency, crash safety, nothing lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from services.cli import app
from services.errors import BatchRejectedError, InputError
from services.ingestion.gate import ingest_file, ingest_frame
from services.offline import datasets
from services.offline.datasets import list_versions
from services.sdk import Client
from services.serving.metrics import make_metrics
from services.serving.schemas import PushRequest
from services.serving.service import FeatureService, read_reasons
from services.settings import Settings
from services.store import Store, load_definitions
from tests.demo_repo import allowed_values

runner = CliRunner()
T0 = pd.Timestamp("2026-01-01T00:00:00Z")


def merchant_rows(n: int, start_id: int = 1) -> pd.DataFrame:
    ts = pd.Series([T0 + timedelta(hours=i) for i in range(n)], dtype="datetime64[ns, UTC]")
    return pd.DataFrame(
        {
            "merchant_id": np.arange(start_id, start_id + n, dtype="int64"),
            "event_timestamp": ts,
            "created_timestamp": ts + timedelta(minutes=5),
            "merchant_category": ["fuel"] * n,
            "fraud_rate_30d": [0.01] * n,
            "chargeback_rate_30d": [0.02] * n,
            "txn_volume_30d": np.arange(n, dtype="int64"),
        }
    )


def snapshot(root: Path) -> dict[str, int]:
    return (
        {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}
        if root.exists()
        else {}
    )


def ingest_cli(path: Path, source: str = "merchant_risk", *extra: str) -> tuple[int, str]:
    r = runner.invoke(app, ["ingest", source, str(path), "--json", *extra])
    return r.exit_code, r.output


@pytest.fixture
def settings_(sqlite_settings: Settings) -> Settings:
    return sqlite_settings


def test_unusable_files_exit_2_and_leave_the_store_untouched(
    settings_: Settings, tmp_path: Path
) -> None:
    good = tmp_path / "good.parquet"
    merchant_rows(5).to_parquet(good)
    assert ingest_cli(good)[0] == 0
    before = snapshot(settings_.offline_dir)
    empty = tmp_path / "empty.parquet"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.parquet"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"PAR1" + os.urandom(300))
    no_rows = tmp_path / "no_rows.parquet"
    merchant_rows(0).to_parquet(no_rows)
    wrong = tmp_path / "wrong.parquet"
    pd.DataFrame({"a": [1], "b": [2]}).to_parquet(wrong)
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text('merchant_id,event_timestamp\n1,"unterminated\n')
    binary_csv = tmp_path / "binary.csv"
    binary_csv.write_bytes(b"\xff\xfe\x00bad")
    cases = [
        tmp_path / "missing.parquet",
        empty,
        truncated,
        garbage,
        no_rows,
        wrong,
        bad_csv,
        binary_csv,
        tmp_path / "data.json",
    ]
    (tmp_path / "data.json").write_text("{}")
    for path in cases:
        code, out = ingest_cli(path)
        assert code == 2, (path.name, out)
        assert path.name in out, out
    code, out = ingest_cli(good, "no_such_source")
    assert code == 2
    assert "unknown source" in out
    assert snapshot(settings_.offline_dir) == before


def test_bad_rows_get_reasons_and_every_row_is_accounted_for(
    settings_: Settings, tmp_path: Path
) -> None:
    frame = merchant_rows(10).astype({"fraud_rate_30d": object, "merchant_category": object})
    frame.loc[1, "fraud_rate_30d"] = 1.5  # out of range
    frame.loc[2, "merchant_category"] = "casino"  # not an allowed value
    frame.loc[3, "merchant_category"] = None  # null in a non-nullable column
    frame.loc[4, "fraud_rate_30d"] = "abc"  # wrong type
    frame = pd.concat([frame, frame.iloc[[0]]], ignore_index=True)  # duplicate key (row 10)
    # CSV text: the contract parses it ("0.5" is a number there, "abc" is not).
    path = tmp_path / "batch.csv"
    frame.to_csv(path, index=False)
    code, out = ingest_cli(path, "merchant_risk", "--policy", "quarantine")
    assert code == 0, out
    summary = json.loads(out)
    assert summary["received"] == 11
    assert summary["written"] + summary["quarantined"] == 11
    assert summary["quarantined"] == 5
    q = pd.read_parquet(summary["quarantine_path"])
    reasons = {
        int(r): {(x["check"], x["column"]) for x in json.loads(j)}
        for r, j in zip(q["_row"], q["_reasons"], strict=True)
    }
    assert reasons == {
        1: {("less_than_or_equal_to(1)", "fraud_rate_30d")},
        2: {
            (
                f"isin({list(allowed_values('merchant_risk', 'merchant_category'))})",
                "merchant_category",
            )
        },
        3: {("not_nullable", "merchant_category")},
        4: {("dtype(Float64)", "fraud_rate_30d")},
        10: {("duplicate_key", "key")},
    }
    report = json.loads(Path(summary["report_path"]).read_text())
    assert sum(c["failures"] for c in report["checks"]) == 5
    assert (
        settings_.offline_dir / "merchant_risk" / f"{summary['dataset_version']}.parquet"
    ).exists()


def _quarantined_reasons(path: str | None) -> dict[int, list[dict[str, Any]]]:
    assert path is not None
    q = pd.read_parquet(path)
    return {int(r): json.loads(j) for r, j in zip(q["_row"], q["_reasons"], strict=True)}


def test_a_row_whose_cell_fails_its_dtype_gets_its_other_reasons_too(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """Regression: a cell failing its dtype hid every other failure of its row (a null, a range).

    Whole and streamed (two rows a batch), the row lists all three; rows already reported
    completely (a dtype failure alone, Pandera's failures alone) read as before.
    """
    frame = merchant_rows(6).astype(
        {"txn_volume_30d": object, "merchant_category": object, "fraud_rate_30d": object}
    )
    broken = ["merchant_category", "fraud_rate_30d", "txn_volume_30d"]
    frame.loc[1, broken] = [None, 2.0, 5.7]  # a null, out of range, not an integer
    frame.loc[2, "txn_volume_30d"] = 5.7  # a dtype failure alone
    frame.loc[4, broken[:2]] = [None, 2.0]  # no dtype failure
    null = {"check": "not_nullable", "column": "merchant_category", "value": None}
    high = {"check": "less_than_or_equal_to(1)", "column": "fraud_rate_30d", "value": "2.0"}
    dtype = {"check": "dtype(Int64)", "column": "txn_volume_30d", "value": "5.7"}
    expected = {1: [null, high, dtype], 2: [dtype], 4: [null, high]}
    path = tmp_path / "m.parquet"
    frame.to_parquet(path)
    for rows in (None, 2):  # in one piece, then two rows a batch
        settings = make_settings("sqlite", **({"ingest_batch_rows": rows} if rows else {}))
        store = Store(settings)
        store.apply(load_definitions(settings.repo_path))
        result = ingest_file(store, "merchant_risk", path, policy="quarantine")
        store.close()
        assert (result.written, result.quarantined) == (3, 3), rows
        assert _quarantined_reasons(result.quarantine_path) == expected, rows
        assert result.failed_checks == {
            "not_nullable": 2,
            "less_than_or_equal_to(1)": 2,
            "dtype(Int64)": 2,
        }


def test_a_rejected_push_counts_only_the_rows_that_failed(settings_: Settings) -> None:
    """Regression: a push of two rows, one bad, was refused as "2 of 2 rows invalid"."""
    store = Store(settings_)
    store.apply(load_definitions(settings_.repo_path))
    frame = merchant_rows(2)
    frame.loc[1, "txn_volume_30d"] = -1
    body = {
        k: [v.isoformat() if isinstance(v, pd.Timestamp) else v for v in s]
        for k, s in frame.astype(object).items()
    }
    service = FeatureService(store, make_metrics())
    try:
        with pytest.raises(BatchRejectedError) as caught:
            service.push(PushRequest(push_source_name="merchant_risk", df=body))
    finally:
        service.close()
        store.close()
    assert str(caught.value) == "merchant_risk: batch rejected, 1 of 2 rows invalid"
    result = caught.value.result
    assert (result.received, result.written, result.quarantined, result.invalid) == (2, 0, 2, 1)
    assert read_reasons(result) == [
        {
            "row": 1,
            "check": "greater_than_or_equal_to(0)",
            "column": "txn_volume_30d",
            "value": "-1",
        }
    ]


def test_reject_policy_writes_nothing_anywhere(settings_: Settings, tmp_path: Path) -> None:
    frame = merchant_rows(4)
    frame.loc[2, "txn_volume_30d"] = -1
    path = tmp_path / "b.parquet"
    frame.to_parquet(path)
    code, out = ingest_cli(path, "merchant_risk", "--policy", "reject")
    assert code == 1
    summary = json.loads(out)
    assert (summary["written"], summary["quarantined"], summary["dataset_version"]) == (0, 4, None)
    assert list_versions(settings_.offline_dir, "merchant_risk") == []
    assert Path(summary["report_path"]).exists()


def test_naive_timestamps_extra_and_missing_columns_are_rejected_with_reasons(
    settings_: Settings, tmp_path: Path
) -> None:
    naive = merchant_rows(3)
    naive["event_timestamp"] = naive["event_timestamp"].dt.tz_localize(None)
    extra = merchant_rows(3).assign(surprise=1)
    missing = merchant_rows(3).drop(columns=["txn_volume_30d"])
    for name, frame, check in [
        ("naive", naive, "timestamp_not_tz_aware"),
        ("extra", extra, "column_unknown"),
        ("missing", missing, "column_missing"),
    ]:
        path = tmp_path / f"{name}.parquet"
        frame.to_parquet(path)
        code, out = ingest_cli(path, "merchant_risk", "--policy", "quarantine")
        assert code == 1, (name, out)
        summary = json.loads(out)
        assert summary["quarantined"] == 3
        q = pd.read_parquet(summary["quarantine_path"])
        assert all(check in r for r in q["_reason"]), (name, q["_reason"].tolist())
    assert list_versions(settings_.offline_dir, "merchant_risk") == []


def test_a_time_nanoseconds_cannot_hold_is_quarantined_not_a_traceback(
    settings_: Settings, tmp_path: Path
) -> None:
    """Regression: a 9999-12-31 "valid until" sentinel in a parquet file (microseconds, as Arrow
    writes it) stopped the ingest with pandas' OutOfBoundsDatetime traceback, exit 1."""
    frame = merchant_rows(4)
    created = frame["created_timestamp"].dt.tz_localize(None).to_numpy().astype("M8[us]")
    created[2] = np.datetime64("9999-12-31T00:00:00", "us")
    frame["created_timestamp"] = pd.Series(created).dt.tz_localize("UTC")
    path = tmp_path / "sentinel.parquet"
    frame.to_parquet(path)
    code, out = ingest_cli(path, "merchant_risk", "--policy", "quarantine")
    assert code == 0, out
    summary = json.loads(out)
    assert (summary["written"], summary["quarantined"]) == (3, 1)
    q = pd.read_parquet(summary["quarantine_path"])
    assert q["_row"].tolist() == [2]
    assert q["_reason"].tolist() == [
        "timestamp_out_of_range on created_timestamp "
        "(Timestamp('9999-12-31 00:00:00+0000', tz='UTC'))"
    ]


def test_a_csv_time_nanoseconds_cannot_hold_says_so(settings_: Settings, tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(
        "merchant_id,event_timestamp,created_timestamp,merchant_category,fraud_rate_30d,chargeback_rate_30d,txn_volume_30d\n"
        "1,2026-01-01T00:00:00Z,9999-12-31T00:00:00Z,fuel,0.1,0.2,10\n"
        "2,2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,fuel,0.1,0.2,10\n"
        "3,2026-01-01T00:00:00Z,2026-13-45T00:00:00Z,fuel,0.1,0.2,10\n"
    )
    code, out = ingest_cli(path, "merchant_risk", "--policy", "quarantine")
    assert code == 0, out
    q = pd.read_parquet(json.loads(out)["quarantine_path"])
    assert dict(zip(q["_row"], q["_reason"], strict=True)) == {
        0: "timestamp_out_of_range on created_timestamp ('9999-12-31T00:00:00Z')",
        2: "dtype(timestamp) on created_timestamp ('2026-13-45T00:00:00Z')",
    }


def test_csv_is_parsed_by_the_contract(settings_: Settings, tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(
        "merchant_id,event_timestamp,created_timestamp,merchant_category,fraud_rate_30d,chargeback_rate_30d,txn_volume_30d\n"
        "1,2026-01-01T00:00:00Z,2026-01-01T01:00:00+00:00,fuel,0.1,0.2,10\n"
        "2,2026-01-01T00:00:00,2026-01-01T01:00:00Z,fuel,0.1,0.2,10\n"
        "3,2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,fuel,0.1,0.2,1.5\n"
        "4,2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,fuel,0.1,0.2,7.0\n"
    )
    code, out = ingest_cli(path, "merchant_risk", "--policy", "quarantine")
    assert code == 0, out
    summary = json.loads(out)
    assert (summary["written"], summary["quarantined"]) == (2, 2)
    q = pd.read_parquet(summary["quarantine_path"])
    assert dict(zip(q["_row"], q["_reason"], strict=True)) == {
        1: "timestamp_not_tz_aware on event_timestamp ('2026-01-01T00:00:00')",
        2: "dtype(Int64) on txn_volume_30d ('1.5')",
    }


def test_identical_reingest_is_idempotent(settings_: Settings, tmp_path: Path) -> None:
    path = tmp_path / "m.parquet"
    merchant_rows(20).to_parquet(path)
    first = json.loads(ingest_cli(path)[1])
    second = json.loads(ingest_cli(path)[1])
    assert first["dataset_version"] == second["dataset_version"]
    assert len(list_versions(settings_.offline_dir, "merchant_risk")) == 1
    r = runner.invoke(app, ["datasets", "merchant_risk", "--json"])
    assert [v["rows"] for v in json.loads(r.output)] == [20]


def test_a_process_killed_between_write_and_rename_leaves_no_version(
    settings_: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "m.parquet"
    merchant_rows(50).to_parquet(path)
    settings_.data_dir.mkdir(parents=True, exist_ok=True)
    assert settings_.offline_dir  # the data dir's layout marker first: its write is no commit
    script = (
        "import os, sys\n"
        "os.replace = lambda *a, **k: os._exit(9)  # die right before the commit point\n"
        "from services.cli import app\n"
        f"app(['ingest', 'merchant_risk', {str(path)!r}])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], env=os.environ.copy(), capture_output=True, check=False
    )
    assert proc.returncode == 9, proc.stderr.decode()[-2000:]
    assert list_versions(settings_.offline_dir, "merchant_risk") == []
    leftovers = [p.name for p in (settings_.offline_dir / "merchant_risk").iterdir() if p.is_file()]
    assert all(name.startswith(".") for name in leftovers), leftovers  # hidden temp only
    code, out = ingest_cli(path)  # a retry succeeds
    assert code == 0, out
    assert len(list_versions(settings_.offline_dir, "merchant_risk")) == 1


def test_valid_rows_are_written_exactly_and_name_the_same_version_alone(
    sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(datasets, "ROW_GROUP_ROWS", 7)  # several row groups, some with bad rows
    store = Store(sqlite_settings)
    frame = merchant_rows(30).astype({"fraud_rate_30d": object})
    frame.loc[[3, 8, 9, 29], "fraud_rate_30d"] = [2.0, "abc", -1.0, 5.0]
    frame.index = frame.index * 10 + 5  # the caller's index is not positions
    mixed = ingest_frame(store, "merchant_risk", frame, policy="quarantine", update_online=False)
    assert (mixed.written, mixed.quarantined) == (26, 4)
    assert pd.read_parquet(mixed.quarantine_path)["_row"].tolist() == [3, 8, 9, 29]
    written = pd.read_parquet(
        sqlite_settings.offline_dir / "merchant_risk" / f"{mixed.dataset_version}.parquet"
    )
    good = merchant_rows(30).drop(index=[3, 8, 9, 29]).reset_index(drop=True)
    pd.testing.assert_frame_equal(written, good.astype(written.dtypes.to_dict()))
    alone = ingest_frame(store, "merchant_risk", good, update_online=False)
    assert (alone.dataset_version, alone.new_version) == (mixed.dataset_version, False)
    store.close()


_BREAKS: list[tuple[str, Any]] = [
    ("fraud_rate_30d", 2.0),
    ("fraud_rate_30d", -0.1),
    ("txn_volume_30d", -5),
    ("merchant_category", "casino"),
    ("merchant_category", None),
    ("chargeback_rate_30d", None),
]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n=st.integers(min_value=1, max_value=40),
    breaks=st.lists(st.tuples(st.integers(0, 39), st.integers(0, len(_BREAKS) - 1)), max_size=15),
    dups=st.lists(st.integers(0, 39), max_size=5),
)
def test_received_equals_written_plus_quarantined(
    sqlite_settings: Settings, n: int, breaks: list[tuple[int, int]], dups: list[int]
) -> None:
    store = Store(sqlite_settings)
    frame = merchant_rows(n, start_id=10_000 + n * 100).astype(
        {
            "fraud_rate_30d": object,
            "chargeback_rate_30d": object,
            "merchant_category": object,
            "txn_volume_30d": object,
        }
    )
    expected_bad: set[int] = set()
    for row, which in breaks:
        if row < n:
            column, value = _BREAKS[which]
            frame.loc[row, column] = value
            expected_bad.add(row)
    for row in dups:
        if row < n:
            frame = frame.iloc[[*range(len(frame)), row]].reset_index(drop=True)
            expected_bad.add(len(frame) - 1)
    result = ingest_frame(store, "merchant_risk", frame, policy="quarantine", update_online=False)
    assert result.received == len(frame)
    assert result.received == result.written + result.quarantined
    assert result.quarantined == len(expected_bad)
    if result.dataset_version:
        written = pd.read_parquet(
            sqlite_settings.offline_dir / "merchant_risk" / f"{result.dataset_version}.parquet"
        )
        good = frame.drop(index=sorted(expected_bad))
        assert sorted(written["txn_volume_30d"].tolist()) == sorted(
            int(v) for v in good["txn_volume_30d"]
        )
    store.close()


def test_strings_are_not_numbers_outside_csv(settings_: Settings, tmp_path: Path) -> None:
    """Regression (hardening #6): a parquet string column for a number field is not converted."""
    frame = merchant_rows(3).astype({"fraud_rate_30d": str, "txn_volume_30d": str})
    path = tmp_path / "strings.parquet"
    frame.to_parquet(path)
    code, out = ingest_cli(path, "merchant_risk", "--policy", "quarantine")
    assert code == 1, out  # nothing valid: a verdict against the data
    summary = json.loads(out)
    assert summary["quarantined"] == 3, out
    q = pd.read_parquet(summary["quarantine_path"])
    checks = {x["check"] for j in q["_reasons"] for x in json.loads(j)}
    assert {"dtype(Float64)", "dtype(Int64)"} <= checks


def test_missing_columns_are_named_on_screen_and_paths_are_never_cut(
    settings_: Settings, tmp_path: Path
) -> None:
    """At 80 columns: one stderr line names the missing columns; each path prints whole."""
    deep = tmp_path / ("a-directory-name-long-enough-to-overflow-eighty-columns" * 2)
    deep.mkdir()
    path = deep / "missing.parquet"
    merchant_rows(3).drop(columns=["txn_volume_30d", "chargeback_rate_30d"]).to_parquet(path)
    env = {**os.environ, "COLUMNS": "80", "LINES": "40"}
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "ingest", "merchant_risk", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    named = [line for line in done.stderr.splitlines() if "lacks column(s)" in line]
    assert len(named) == 1, done.stderr
    assert str(path) in named[0]
    assert named[0].endswith("chargeback_rate_30d, txn_volume_30d")
    (report,) = (settings_.offline_dir / "merchant_risk" / "_reports").glob("*.json")
    (quarantine,) = (settings_.quarantine_dir / "merchant_risk").glob("*.parquet")
    lines = done.stdout.splitlines()
    assert str(report) in lines, done.stdout  # whole, on a line of its own
    assert str(quarantine) in lines, done.stdout
    assert "…" not in done.stdout


@pytest.mark.parametrize("policy", ["REJECT", "rejekt", ""])
def test_a_misspelt_policy_is_refused_before_anything_is_written(
    settings_: Settings, tmp_path: Path, policy: str
) -> None:
    """``policy="REJECT"`` behaved as quarantine: the good rows of a bad batch were written."""
    frame = merchant_rows(2)
    frame.loc[1, "txn_volume_30d"] = -1
    path = tmp_path / "b.parquet"
    frame.to_parquet(path)
    before = snapshot(settings_.offline_dir.parent.parent)  # the data dir, once laid out
    with Client(settings_) as client, pytest.raises(InputError, match="use one of 'reject'"):
        client.ingest("merchant_risk", frame, policy=policy)  # type: ignore[arg-type]
    store = Store(settings_)
    try:
        with pytest.raises(InputError, match=f"policy {policy!r}"):
            ingest_file(store, "merchant_risk", path, policy=policy)  # type: ignore[arg-type]
    finally:
        store.close()
    assert snapshot(settings_.data_dir) == before
