"""Every write path shares one gate, and lineage never blocks or loses an ingest."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import sqlalchemy
from typer.testing import CliRunner

from lineage.emitter import Emitter
from services.cli import app
from services.errors import BatchRejectedError
from services.ingestion.gate import ingest_frame
from services.lineage_events import _EMITTERS
from services.serving.metrics import make_metrics
from services.serving.schemas import PushRequest
from services.serving.service import FeatureService, read_reasons
from services.settings import Settings
from services.store import Store, load_definitions
from tests.integration.serving.conftest import free_port

runner = CliRunner()


def _rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4, 4],
            "event_timestamp": ["2026-01-01T00:00:00Z"] * 4 + ["2026-01-01T00:00:00Z"],
            "created_timestamp": ["2026-01-01T01:00:00Z"] * 5,
            "account_age_days": [10, -1, 30, 40, 40],
            "country": ["GB", "FR", "XX", "DE", "DE"],
            "postcode_hash": ["a" * 64, "b" * 64, "c" * 64, "short", "d" * 64],
            "credit_limit": [100.0, 200.0, 300.0, 400.0, 400.0],
            "kyc_verified": [True, False, True, True, True],
        }
    )


def test_push_rejects_exactly_the_rows_the_batch_path_rejects(sqlite_settings: Settings) -> None:
    store = Store(sqlite_settings)
    store.apply(load_definitions(sqlite_settings.repo_path))
    batch = ingest_frame(store, "customer_profile", _rows(), policy="reject", update_online=False)
    batch_reasons = {(r["row"], r["check"], r["column"]) for r in read_reasons(batch)}
    assert {row for row, _, _ in batch_reasons} == {1, 2, 3, 4}
    service = FeatureService(store, make_metrics())
    try:
        service.push(
            PushRequest(
                push_source_name="customer_profile", df={k: v.tolist() for k, v in _rows().items()}
            )
        )
        raise AssertionError("push accepted invalid rows")
    except BatchRejectedError as exc:
        push_reasons = {(r["row"], r["check"], r["column"]) for r in read_reasons(exc.result)}
    assert push_reasons == batch_reasons
    assert not list((sqlite_settings.offline_dir / "customer_profile").glob("v*.parquet"))
    service.close()
    store.close()


def test_lineage_down_spools_then_replays_without_loss(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens here
    settings = make_settings("sqlite", lineage_url=dead)
    store = Store(settings)
    store.apply(load_definitions(settings.repo_path))
    result = ingest_frame(store, "customer_profile", _rows().iloc[[0]], update_online=False)
    assert result.accepted  # ingestion never fails because lineage is down
    spool = settings.lineage_spool_path
    spooled = [json.loads(line) for line in spool.read_text().splitlines()]
    assert [r["body"]["eventType"] for r in spooled] == ["START", "COMPLETE"]
    # Replay into the lineage database in-process (the embedded default).
    local = Emitter(database_url=settings.effective_lineage_database_url, spool_path=spool)
    assert local.flush() == 2
    assert local.flush() == 0  # nothing left, nothing duplicated
    summary = local.summary()
    assert summary is not None
    assert summary["runs"] == {"COMPLETE": 1}
    local.close()
    _EMITTERS.clear()
    store.close()


def test_cli_flow_training_set_online_parity_and_incremental(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    raw = tmp_path / "raw"
    assert (
        runner.invoke(
            app, ["demo-data", "--out", str(raw), "--size", "30", "--days", "6"]
        ).exit_code
        == 0
    )
    for source in ("customer_transactions_daily", "customer_profile", "merchant_risk"):
        r = runner.invoke(app, ["ingest", source, str(raw / f"{source}.parquet"), "--json"])
        assert r.exit_code == 0, r.output
    assert runner.invoke(app, ["apply"]).exit_code == 0
    # Ingested before apply: nothing online yet; the incremental run picks up those versions.
    r = runner.invoke(app, ["audit", "parity", "--all", "--json"])
    assert r.exit_code == 1
    assert runner.invoke(app, ["materialize", "--incremental"]).exit_code == 0
    r = runner.invoke(app, ["audit", "parity", "--all", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["passed"] is True
    # Each audit run is in lineage, with its assertion and metrics (dataQualityMetrics facet).
    engine = sqlalchemy.create_engine(sqlite_settings.effective_lineage_database_url)
    with engine.connect() as conn:
        jobs = {row[0] for row in conn.execute(sqlalchemy.text("SELECT name FROM jobs"))}
        events = [
            json.loads(row[0])
            for row in conn.execute(
                sqlalchemy.text("SELECT payload FROM lineage_events WHERE event_type = 'COMPLETE'")
            )
        ]
    engine.dispose()
    assert f"audit_parity.{sqlite_settings.project}" in jobs
    parity = [e for e in events if e["job"]["name"].startswith("audit_parity")][-1]
    facets = parity["inputs"][0]["inputFacets"] | parity["inputs"][0]["facets"]
    assert "dataQualityMetrics" in facets or "dataQualityAssertions" in facets
    out = tmp_path / "train.parquet"
    r = runner.invoke(
        app,
        [
            "training-set",
            "--service",
            "fraud_detection_v2",
            "--entities",
            str(raw / "entities.parquet"),
            "--out",
            str(out),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    meta = json.loads(r.output)
    frame = pd.read_parquet(out)
    assert len(frame) == meta["rows"] == len(pd.read_parquet(raw / "entities.parquet"))
    assert str(frame["txn_count_1d"].dtype) == "Int64"
    assert set(meta["dataset_versions"]) == {
        "customer_transactions_daily",
        "customer_profile",
        "merchant_risk",
    }
    again = runner.invoke(
        app,
        [
            "training-set",
            "--service",
            "fraud_detection_v2",
            "--entities",
            str(raw / "entities.parquet"),
            "--out",
            str(out),
            "--json",
        ],
    )
    assert json.loads(again.output)["version"] == meta["version"]  # same inputs, same version
    args = ["training-set", "--service", "fraud_detection_v2", "--entities"]
    shown = runner.invoke(app, [*args, str(raw / "entities.parquet"), "--out", str(out)])
    assert shown.exit_code == 0, shown.output
    # For a person: "source v1; source v2", not a Python dict's repr.
    read = " ".join(shown.output.split()).split("dataset versions read: ")[1]
    first = meta["dataset_versions"]["customer_profile"][0]
    assert read.startswith(f"customer_profile {first}"), read
    assert "{" not in read
    r = runner.invoke(
        app,
        [
            "online",
            "--service",
            "fraud_detection_v1",
            "--entity",
            "customer_id=1",
            "--request",
            "transaction_amount=12.5",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    assert {row["feature"] for row in json.loads(r.output)} >= {
        "customer_id",
        "amount_to_avg_30d_ratio",
    }
    r = runner.invoke(
        app, ["online", "--service", "fraud_detection_v1", "--entity", "customer_id=x"]
    )
    assert r.exit_code == 2
    r = runner.invoke(
        app,
        [
            "training-set",
            "--service",
            "nope",
            "--entities",
            str(raw / "entities.parquet"),
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 2


def test_commands_over_views_refuse_a_project_with_none_applied(
    sqlite_settings: Settings,
) -> None:
    # Regression: before any apply, materialize, parity and freshness printed an empty table
    # and exited 0, as if every verdict held over nothing.
    runner = CliRunner()
    for args in (["materialize"], ["audit", "parity"], ["audit", "freshness"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 2, (args, r.output)
        said = " ".join(r.stderr.split())
        assert said.startswith(f"error: project '{sqlite_settings.project}' has no feature")
        assert "run `skewless apply` first" in said
    store = Store(sqlite_settings)
    store.apply(load_definitions(sqlite_settings.repo_path))
    store.close()
    assert runner.invoke(app, ["audit", "parity"]).exit_code == 0
