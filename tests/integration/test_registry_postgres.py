"""Feast's SQL registry on PostgreSQL, as production runs it: shared by every process.

Apply writes the registry to a PostgreSQL database of its own; a second store (another
process's view), the feature server and Feast's own reads all resolve definitions from it, and
a re-apply is seen by the running server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest
from feast import FeatureService

from services.audits.parity import audit_parity
from services.online.materialize import materialize
from services.online.state import load_state, lost_views
from services.settings import Settings
from services.store import Store, load_definitions
from tests.integration.serving.conftest import ServerThread, load_project
from tests.pg import temporary_database
from tests.waiting import wait_for


@pytest.fixture
def registry_url() -> Iterator[str]:
    with temporary_database("registry_test") as url:
        yield url


def _registry_projects(url: str) -> set[str]:
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        return {row[0] for row in conn.execute("SELECT project_id FROM feature_views")}


def test_the_registry_on_postgresql_is_shared_by_every_reader(
    make_settings: Callable[..., Settings], registry_url: str, tmp_path: Path
) -> None:
    settings = make_settings("redis", registry_url=registry_url, registry_ttl_s=0.5)
    load_project(settings, tmp_path)  # apply + ingest (which writes online)
    assert _registry_projects(registry_url) == {settings.project}  # not a local file
    assert not list(settings.data_dir.glob("registry*"))

    other = Store(settings)  # another process's view of the same registry
    try:
        assert set(other.feature_views) == {
            "customer_transactions_daily",
            "customer_profile",
            "merchant_risk",
        }
        report = audit_parity(other, sample=25)  # ours against offline and Feast's own reads
        assert report.passed, report.mismatches[:3]
        assert sum(v.cells for v in report.views) > 0
    finally:
        other.close()

    body = {"feature_service": "fraud_detection_v2", "entities": {"customer_id": [1, 2]}}
    body["entities"]["merchant_id"] = [1, 2]
    body["entities"]["transaction_amount"] = [10.0, 20.0]
    with ServerThread(settings) as srv, httpx.Client(base_url=srv.url, timeout=30) as client:
        first = client.post("/get-online-features", json=body)
        assert first.status_code == 200, first.text
        assert "PRESENT" in first.text
        assert (
            client.post("/get-online-features", json={**body, "feature_service": "x"}).status_code
            == 404
        )

        # Apply from elsewhere, adding a feature service: the running server starts serving it.
        definitions = load_definitions(settings.repo_path)
        profile = next(v for v in definitions.feature_views if v.name == "customer_profile")
        definitions.feature_services.append(
            FeatureService(
                name="profile_probe", features=[profile], owner="t@example.org", description="d"
            )
        )
        probe = {"feature_service": "profile_probe", "entities": {"customer_id": [1, 2]}}
        assert client.post("/get-online-features", json=probe).status_code == 404
        applier = Store(settings)
        try:
            applier.apply(definitions)
        finally:
            applier.close()
        wait_for(
            lambda: client.post("/get-online-features", json=probe).status_code == 200,
            "the server to see profile_probe applied",
        )


def test_a_push_without_the_registry_cache_sees_an_apply_at_once(
    make_settings: Callable[..., Settings], registry_url: str, tmp_path: Path
) -> None:
    # The server would keep its registry for an hour; Feast's allow_registry_cache=false
    # makes a push re-read it, and what the push re-read is then served.
    settings = make_settings("sqlite", registry_url=registry_url, registry_ttl_s=3600)
    load_project(settings, tmp_path)
    row = {
        "merchant_id": [900001],
        "event_timestamp": ["2026-01-01T00:00:00+00:00"],
        "created_timestamp": ["2026-01-01T01:00:00Z"],
        "merchant_category": ["fuel"],
        "fraud_rate_30d": [0.01],
        "chargeback_rate_30d": [0.02],
        "txn_volume_30d": [10],
    }
    probe = {"feature_service": "profile_probe", "entities": {"customer_id": [1]}}
    with ServerThread(settings) as srv, httpx.Client(base_url=srv.url, timeout=30) as client:
        assert client.post("/get-online-features", json=probe).status_code == 404
        definitions = load_definitions(settings.repo_path)
        profile = next(v for v in definitions.feature_views if v.name == "customer_profile")
        definitions.feature_services.append(
            FeatureService(
                name="profile_probe", features=[profile], owner="t@example.org", description="d"
            )
        )
        applier = Store(settings)
        try:
            applier.apply(definitions)
        finally:
            applier.close()
        push = {"push_source_name": "merchant_risk", "df": row}
        assert client.post("/push", json=push).status_code == 200  # the cache is allowed
        assert client.post("/get-online-features", json=probe).status_code == 404
        refused = client.post("/push", json={**push, "allow_registry_cache": "no"})
        assert refused.status_code == 422  # a boolean, not a word
        fresh = client.post("/push", json={**push, "allow_registry_cache": False})
        assert fresh.status_code == 200, fresh.text
        assert client.post("/get-online-features", json=probe).status_code == 200


def _recorded(url: str, project: str) -> dict[str, set[str]]:
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT view, version FROM skewless_online_versions WHERE project = %s", (project,)
        ).fetchall()
    out: dict[str, set[str]] = {}
    for view, version in rows:
        out.setdefault(view, set()).add(version)
    return out


def test_materialization_progress_lives_beside_the_shared_registry(
    make_settings: Callable[..., Settings], registry_url: str, tmp_path: Path
) -> None:
    settings = make_settings("redis", registry_url=registry_url)
    load_project(settings, tmp_path)  # ingest writes online: its versions are recorded
    assert not list(settings.data_dir.glob("online_state*"))  # no process-local file
    ingested = _recorded(registry_url, settings.project)
    assert set(ingested) == {"customer_transactions_daily", "customer_profile", "merchant_risk"}

    # Two replicas materialize different views at once: both records survive (a whole-file
    # rewrite let the last writer drop the other's versions and markers).
    stores = [Store(settings), Store(settings)]
    try:
        with ThreadPoolExecutor(2) as pool:
            runs = [
                pool.submit(materialize, s, views=[view], incremental=True)
                for s, view in zip(stores, ("customer_profile", "merchant_risk"), strict=True)
            ]
            for run in runs:
                run.result()
        state = load_state(stores[0])
    finally:
        for s in stores:
            s.close()
    assert _recorded(registry_url, settings.project) == {
        view: set(versions) for view, versions in state.views.items()
    }
    assert set(state.markers) >= {"customer_profile", "merchant_risk"}
    assert lost_views(Store(settings), state) == []  # every marker is in Redis too


def test_a_registry_out_of_reach_is_exit_3_in_one_line(
    make_settings: Callable[..., Settings],
) -> None:
    # Regression: with SKEWLESS_REGISTRY_URL pointing where nothing listens, apply (and every
    # command that opens the registry) ended in a traceback of SQLAlchemy's and exit 1.
    from typer.testing import CliRunner

    from services.cli import app
    from tests.integration.serving.conftest import free_port

    port = free_port()
    make_settings("sqlite", registry_url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/reg")
    runner = CliRunner()
    for args in (["apply"], ["materialize"], ["audit", "parity"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 3, (args, r.output)
        said = " ".join(r.stderr.split())
        assert said.startswith(f"error: feature registry at 127.0.0.1:{port} does not answer")
        assert said.endswith("start it, or point SKEWLESS_REGISTRY_URL at a running one")
        assert "Traceback" not in r.output
    # The feature server answers 503 with the same line, not a 500 (the request was fine).
    settings = make_settings(
        "sqlite", registry_url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/reg"
    )
    body = {"feature_service": "fraud_detection_v1", "entities": {"customer_id": [1]}}
    with ServerThread(settings) as srv, httpx.Client(base_url=srv.url, timeout=30) as client:
        answer = client.post("/get-online-features", json=body)
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == "registry_unavailable"
    assert answer.json()["detail"].startswith(f"feature registry at 127.0.0.1:{port} does not")
    make_settings("sqlite", registry_url="postgresql+psycopg://postgres@127.0.0.1:5432/no_such_reg")
    r = runner.invoke(app, ["apply"])
    assert r.exit_code == 3, r.output
    assert "feature registry 'no_such_reg' at 127.0.0.1:5432 does not exist" in r.stderr
