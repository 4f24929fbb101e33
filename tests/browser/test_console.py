"""The web console in a real browser (Debian's chromium, headless, through Playwright).

The card-fraud demo runs with its lineage in a fresh PostgreSQL database, then a drift audit (on
a served-feature log skewed on purpose) and a freshness audit; a foreign producer in namespace
``warehouse`` reads the training set. ``skewless lineage serve`` serves the console at ``/``.
An auditor walks the catalog, a view's page, the graph around a dataset, a model's provenance,
a dataset version's impact and the audit log (the chain verifies); a consumer granted only
``skewless`` sees the warehouse nodes redacted. Every page loads with no console error and is
saved as a screenshot in ``test-artifacts/console/``.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pandas as pd
import psycopg
import pytest
from playwright.sync_api import expect

from services.offline.versions import list_versions
from tests.browser.conftest import WatchedPage
from tests.integration.serving.conftest import free_port
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
SKEWLESS = str(Path(sys.executable).parent / "skewless")
MODEL = "fraud-model"


@dataclass(frozen=True)
class Console:
    url: str
    auditor: str
    consumer: str
    admin: str
    training_version: str
    model_version: str
    before_foreign: str  # an instant after the demo's runs, before the foreign read
    env: dict[str, str]


def _run(env: dict[str, str], *args: str, ok: tuple[int, ...] = (0,)) -> str:
    done = subprocess.run([SKEWLESS, *args], env=env, capture_output=True, text=True, check=False)
    assert done.returncode in ok, f"skewless {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done.stdout


def _token(env: dict[str, str], principal: str, role: str, *namespaces: str) -> str:
    args = ["lineage", "token", "create", "--principal", principal, "--role", role, "--json"]
    for ns in namespaces:
        args += ["--namespace", ns]
    return str(json.loads(_run(env, *args))["token"])


def _serve(args: list[str], env: dict[str, str], log: Path) -> Iterator[str]:
    port = free_port()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [SKEWLESS, *args, "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(log.read_text())
        try:
            return httpx.get(f"{url}/health").status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(ready, f"skewless {args[0]} to answer /health")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _skewed_served_log(data_dir: Path, service: str) -> None:
    """What a feature server logs for ``service``, with one feature moved far from training."""
    (training,) = glob.glob(str(data_dir / "training_sets" / "*" / "*.parquet"))
    served = pd.read_parquet(training)
    served["credit_limit"] = served["credit_limit"] * 4 + 10_000
    served["_served_at"] = pd.Timestamp(datetime.now(UTC))
    out = data_dir / "served" / service
    out.mkdir(parents=True)
    served.to_parquet(out / "part-00000.parquet", index=False)


def _foreign_read(url: str, admin: str, training_version: str) -> None:
    """A producer in namespace ``warehouse`` reads the training set into a report of its own."""
    run_id = str(uuid.uuid4())
    event = {
        "eventType": "COMPLETE",
        "eventTime": datetime.now(UTC).isoformat(),
        "producer": "https://github.com/acme/reports",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": run_id},
        "job": {"namespace": "warehouse", "name": "weekly_fraud_report"},
        "inputs": [{"namespace": "skewless", "name": "training_set/fraud-demo"}],
        "outputs": [{"namespace": "warehouse", "name": "reports/fraud_weekly"}],
    }
    answer = httpx.post(
        f"{url}/api/v1/lineage", json=event, headers={"Authorization": f"Bearer {admin}"}
    )
    assert answer.status_code == 201, answer.text


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    name = f"console_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    data_dir = tmp_path_factory.mktemp("console")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKEWLESS_", "LINEAGE_"))} | {
        "SKEWLESS_DATA_DIR": str(data_dir),
        "LINEAGE_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}",
        "COLUMNS": "200",
    }
    try:
        _run(env, "demo", "--data-dir", str(data_dir))
        _skewed_served_log(data_dir, "fraud_detection_v2")
        (training,) = glob.glob(str(data_dir / "training_sets" / "*" / "*.parquet"))
        training_version = Path(training).stem
        _run(env, "audit", "drift", "--training-set", training_version, ok=(0, 1))
        _run(env, "audit", "freshness", ok=(0, 1))
        tokens = {
            "auditor": _token(env, "alice", "auditor"),
            "consumer": _token(env, "bob", "consumer", "skewless"),
            "admin": _token(env, "ops", "admin"),
        }
        for url in _serve(["lineage", "serve"], env, data_dir / "serve.log"):
            cut = datetime.now(UTC)
            wait_for(lambda cut=cut: datetime.now(UTC) > cut, "the clock to pass the cut")
            _foreign_read(url, tokens["admin"], training_version)
            yield Console(
                url,
                **tokens,
                training_version=training_version,
                model_version=f"1-{training_version}",
                before_foreign=cut.isoformat().replace("+00:00", "Z"),
                env=env,
            )
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sign_in(w: WatchedPage, url: str, token: str) -> None:
    w.page.goto(f"{url}/")
    w.page.fill("#token", token)
    w.page.click("form.signin button[type=submit]")
    w.page.wait_for_selector("#catalog")


def test_an_auditor_walks_catalog_graph_provenance_impact_and_audit_log(
    console: Console, watched: WatchedPage
) -> None:
    page = watched.page
    sign_in(watched, console.url, console.auditor)
    expect(page.locator("#principal")).to_have_text("alice (auditor)")
    catalog = page.locator("#catalog")
    for view in ("customer_profile", "customer_transactions_daily", "merchant_risk"):
        expect(catalog.get_by_role("link", name=view, exact=True)).to_be_visible()
    expect(catalog).to_contain_text("merchant-risk@skewless.example")
    expect(catalog).to_contain_text("drift: credit_limit")  # fraud_detection_v2's drift verdict
    expect(catalog).to_contain_text("fresh (newest_age<=")
    # customer_profile's latest version, as its footer records it: the demo quarantines 10 rows
    # (how many it generates depends on the day it runs).
    latest = list_versions(Path(console.env["SKEWLESS_DATA_DIR"]) / "offline", "customer_profile")[
        -1
    ]
    assert latest.quarantined == 10
    expect(catalog).to_contain_text(f"{latest.received} / {latest.rows} / 10")
    watched.shot("catalog")

    catalog.get_by_role("link", name="customer_profile", exact=True).click()
    view = page.locator("#dataset")
    expect(view.locator("h1")).to_have_text("feature_view/customer_profile")
    expect(view.locator(".pii")).to_have_count(1)  # the one PII-tagged field, with its class
    expect(view).to_contain_text("Contract checks")
    expect(view).to_contain_text(MODEL)  # usage: the model trained on it
    expect(view.locator("#unused")).to_be_visible()
    watched.shot("feature-view")

    page.goto(f"{console.url}/console/#/catalog")
    page.get_by_role("link", name="fraud_detection_v2", exact=True).click()
    expect(page.locator("#dataset .chart .bar.bad")).to_have_count(1)  # credit_limit's bar
    watched.shot("feature-service-drift")

    node = "dataset:skewless:training_set/fraud-demo"
    page.goto(f"{console.url}/console/#/graph?node={node}&depth=2")
    graph = page.locator("#graph-svg")
    for expected in (
        node,
        "job:skewless:training_set.fraud-demo",
        f"model:{MODEL}:{console.model_version}",
        "job:warehouse:weekly_fraud_report",
        "dataset:skewless:feature_view/merchant_risk",
    ):
        expect(graph.locator(f'g.node[data-id="{expected}"]')).to_have_count(1)
    expect(graph.locator('g.node[data-type="REDACTED"]')).to_have_count(0)
    watched.shot("graph-auditor")
    # As of an instant before the foreign producer's read, its job is not in the graph yet.
    page.goto(f"{console.url}/console/#/graph?node={node}&depth=2&asOf={console.before_foreign}")
    expect(page.locator("#graph-summary")).to_be_visible()
    as_of = page.locator("#graph-svg")
    expect(as_of.locator(f'g.node[data-id="{node}"]')).to_have_count(1)
    expect(as_of.locator('g.node[data-id="job:warehouse:weekly_fraud_report"]')).to_have_count(0)
    page.goto(f"{console.url}/console/#/graph?node={node}&depth=2")
    graph = page.locator("#graph-svg")

    graph.locator(f'g.node[data-id="model:{MODEL}:{console.model_version}"]').click()
    provenance = page.locator("#provenance")
    expect(provenance.locator("h1")).to_contain_text(f"Provenance of {MODEL}")
    expect(provenance).to_contain_text("offline/merchant_risk")
    watched.shot("provenance")

    provenance.get_by_role("link", name="offline/merchant_risk", exact=True).first.click()
    page.goto(page.url)  # the dataset page, then its newest version's impact
    page.locator("#dataset").get_by_role("link", name="impact").first.click()
    impact = page.locator("#impact")
    expect(impact.locator("h1")).to_contain_text("Impact of offline/merchant_risk")
    expect(impact).to_contain_text(console.model_version)
    expect(impact).to_contain_text("demo")  # the deployment's environment
    watched.shot("impact")

    page.get_by_role("link", name="Audit log").click()
    audit = page.locator("#audit")
    expect(audit.locator("table")).to_contain_text("GET /api/v1/impact")
    page.click("#verify")
    expect(page.locator("#chain")).to_have_text("The audit chain is intact.")
    page.fill("input[name=principal]", "bob")
    page.click("#audit form button[type=submit]")
    expect(page.locator("#audit")).to_contain_text("No entries match.")
    watched.shot("audit-log")
    assert watched.errors == []


def test_a_consumer_sees_nodes_outside_its_grants_redacted(
    console: Console, watched: WatchedPage
) -> None:
    page = watched.page
    sign_in(watched, console.url, console.consumer)
    expect(page.locator("#principal")).to_have_text("bob (consumer)")
    expect(page.get_by_role("link", name="Audit log")).to_have_count(0)
    expect(page.locator("#namespace option")).to_have_text(["skewless"])
    node = "dataset:skewless:training_set/fraud-demo"
    page.goto(f"{console.url}/console/#/graph?node={node}&depth=2")
    graph = page.locator("#graph-svg")
    expect(graph.locator(f'g.node[data-id="{node}"]')).to_have_count(1)
    expect(graph.locator('g.node[data-type="REDACTED"]')).to_have_count(2)  # warehouse job, report
    expect(graph).not_to_contain_text("warehouse")
    expect(graph).not_to_contain_text("weekly_fraud_report")
    watched.shot("graph-consumer-redacted")
    page.goto(f"{console.url}/console/#/dataset/skewless/feature_view%2Fmerchant_risk")
    expect(page.locator("#dataset h1")).to_have_text("feature_view/merchant_risk")
    expect(page.locator("#dataset")).not_to_contain_text("Who read it")  # auditors only
    assert watched.errors == []


def test_a_wrong_token_is_refused_at_sign_in(console: Console, watched: WatchedPage) -> None:
    page = watched.page
    page.goto(f"{console.url}/")
    page.fill("#token", "not-a-token")
    page.click("form.signin button[type=submit]")
    expect(page.locator(".signin .error")).to_contain_text("Sign-in failed")
    expect(page.locator("#catalog")).to_have_count(0)


def test_skewless_console_serves_the_console_alone_against_a_lineage_url(
    console: Console, watched: WatchedPage, tmp_path: Path
) -> None:
    env = {**console.env, "LINEAGE_URL": console.url}
    for url in _serve(["console"], env, tmp_path / "console.log"):
        sign_in(watched, url, console.auditor)
        expect(watched.page.locator("#catalog")).to_contain_text("merchant_risk")
        down = httpx.get(f"{url}/api/v1/me")  # no token: the lineage service's own 401
        assert down.status_code == 401, down.text
    assert watched.errors == []
