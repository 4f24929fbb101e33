"""The web console in a real browser (Debian's chromium, headless, through Playwright).

The card-fraud demo runs with its lineage in a fresh PostgreSQL database, then a drift audit (on
a served-feature log skewed on purpose) and a freshness audit; a foreign producer in namespace
``warehouse`` reads the training set. ``skewless lineage serve`` serves the console at ``/``.
An auditor walks the catalog, a view's page, the graph around a dataset, a model's provenance,
a dataset version's impact and the audit log (the chain verifies); a consumer granted only
``skewless`` sees the warehouse nodes redacted. Every page loads with no console error and is
saved as a screenshot in ``test-artifacts/console/``.

Then what goes wrong: malformed and incomplete addresses, an answer arriving after the user
moved on, a service (or the console's upstream) that stops answering, a revoked token, a view
past the catalog's first page and an invalid control; each says what happened in words.
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
from playwright.sync_api import Route, expect

from services.offline.versions import list_versions
from tests.browser.conftest import WatchedPage
from tests.integration.serving.conftest import free_port
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
SKEWLESS = str(Path(sys.executable).parent / "skewless")
MODEL = "fraud-model"
PROJECT = "skewless"  # the demo's project: its files are under <data dir>/<kind>/skewless/


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


def _serve(
    args: list[str], env: dict[str, str], log: Path, port: int | None = None
) -> Iterator[str]:
    """Run ``skewless *args`` until the generator is closed; it yields the server's URL once."""
    port = port or free_port()
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
    (training,) = glob.glob(str(data_dir / "training_sets" / PROJECT / "*" / "*.parquet"))
    served = pd.read_parquet(training)
    served["credit_limit"] = served["credit_limit"] * 4 + 10_000
    served["_served_at"] = pd.Timestamp(datetime.now(UTC))
    out = data_dir / "served" / PROJECT / service
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
        (training,) = glob.glob(str(data_dir / "training_sets" / PROJECT / "*" / "*.parquet"))
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
    offline = Path(console.env["SKEWLESS_DATA_DIR"]) / "offline" / PROJECT
    latest = list_versions(offline, "customer_profile")[-1]
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


SERVICE_DOWN = "The lineage service does not answer; retry in a moment."
DEMO_NODE = "dataset:skewless:training_set/fraud-demo"


def _uncaught(watched: WatchedPage) -> list[str]:
    """Uncaught exceptions only: a refused or failed request also logs a console error."""
    return [e for e in watched.errors if e.startswith("uncaught")]


def test_a_malformed_or_incomplete_address_says_so_and_calls_no_api(
    console: Console, watched: WatchedPage
) -> None:
    page = watched.page
    sign_in(watched, console.url, console.auditor)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    view = page.locator("#view")
    malformed = f"{console.url}/console/#/dataset/skewless/%E0%A4%A"
    page.goto(malformed)  # from the catalog: a hash change
    expect(view).to_contain_text("This address is not valid: #/dataset/skewless/%E0%A4%A")
    expect(page.locator("#catalog")).to_have_count(0)
    page.reload()  # a fresh load of the same address
    expect(view).to_contain_text("This address is not valid")
    watched.shot("address-malformed")
    for address, expected in (
        ("/dataset", "/dataset/NAMESPACE/NAME"),
        ("/dataset/skewless", "/dataset/NAMESPACE/NAME"),
        ("/provenance/nomodel", "/provenance/MODEL/VERSION"),
        ("/impact/skewless/offline%2Fmerchant_risk", "/impact/NAMESPACE/DATASET/VERSION"),
        ("/history", "/history?node=NODE"),
    ):
        page.goto(f"{console.url}/console/#{address}")
        expect(view).to_have_text(f"This address is incomplete: expected #{expected}.")
    watched.shot("address-incomplete")
    assert [url for url in asked if "/api/" in url and not url.endswith("/api/v1/me")] == []
    assert watched.errors == []


def test_a_page_left_before_its_answer_came_is_not_drawn_over_the_next(
    console: Console, watched: WatchedPage
) -> None:
    page = watched.page
    sign_in(watched, console.url, console.auditor)
    held: list[Route] = []  # the graph's answer waits until the next page is drawn
    page.route("**/api/v1/lineage?*", lambda route: held.append(route))
    page.goto(f"{console.url}/console/#/graph?node={DEMO_NODE}&depth=1")
    page.get_by_role("link", name="Audit log").click()
    expect(page.locator("#audit table")).to_be_visible()
    assert len(held) == 1
    with page.expect_response("**/api/v1/lineage?*") as late:
        held[0].continue_()
    late.value.finished()
    # A round trip after the late answer arrived: by its end the late graph would have been drawn.
    page.click("#verify")
    expect(page.locator("#chain")).to_have_text("The audit chain is intact.")
    expect(page.locator("#graph-svg")).to_have_count(0)
    expect(page.locator("#view h1")).to_have_text("Audit log")
    assert watched.errors == []


def test_a_service_that_stops_answering_is_said_so_and_the_token_kept(
    console: Console, watched: WatchedPage, tmp_path: Path
) -> None:
    """The console alone in front of its own lineage service; one, then the other, stops."""
    page = watched.page
    port = free_port()
    lineage = _serve(["lineage", "serve"], console.env, tmp_path / "lineage-1.log", port)
    proxy = _serve(
        ["console"], {**console.env, "LINEAGE_URL": next(lineage)}, tmp_path / "console.log"
    )
    try:
        sign_in(watched, next(proxy), console.auditor)
        page.get_by_role("link", name="Audit log").click()
        expect(page.locator("#audit table")).to_be_visible()

        lineage.close()  # the console still answers, the service behind it does not
        page.click("#verify")
        expect(page.locator("#chain")).to_contain_text("502: the lineage service at")
        page.reload()
        expect(page.locator("#view")).to_contain_text(SERVICE_DOWN)
        expect(page.locator("#token")).to_have_count(0)  # not sent back to sign in
        assert page.evaluate("sessionStorage.getItem('skewless.token')") == console.auditor
        watched.shot("service-down-reload")

        lineage = _serve(["lineage", "serve"], console.env, tmp_path / "lineage-2.log", port)
        next(lineage)
        page.get_by_role("button", name="Retry").click()  # the kept token signs straight in
        expect(page.locator("#audit table")).to_be_visible()
        watched.shot("service-back")

        proxy.close()  # now nothing answers the page at all: fetch itself fails
        page.click("#verify")
        expect(page.locator("#chain")).to_have_text(SERVICE_DOWN)
        page.get_by_role("link", name="Catalog").click()
        expect(page.locator("#view")).to_have_text(SERVICE_DOWN)
        watched.shot("service-down-navigate")
    finally:
        proxy.close()
        lineage.close()
    assert _uncaught(watched) == []


def test_a_refused_token_sends_to_sign_in_with_the_reason(
    console: Console, watched: WatchedPage
) -> None:
    page = watched.page
    revoked = _token(console.env, "carol", "auditor")
    sign_in(watched, console.url, revoked)
    (entry,) = [
        t
        for t in json.loads(_run(console.env, "lineage", "token", "list", "--json"))
        if t["principal"] == "carol"
    ]
    _run(console.env, "lineage", "token", "revoke", str(entry["id"]))
    bearer = {"Authorization": f"Bearer {revoked}"}
    wait_for(  # the service caches a token's check for a few seconds
        lambda: httpx.get(f"{console.url}/api/v1/me", headers=bearer).status_code == 401,
        "the revoked token to be refused",
    )
    page.reload()
    expect(page.locator(".signin .error")).to_have_text(
        "Your token was refused: a valid bearer token is required. Sign in again."
    )
    watched.shot("token-refused")
    page.fill("#token", console.auditor)
    page.click("form.signin button[type=submit]")
    expect(page.locator("#catalog")).to_be_visible()
    assert _uncaught(watched) == []


def test_a_view_past_the_catalogs_first_page_still_shows_its_data(
    console: Console, watched: WatchedPage, tmp_path: Path
) -> None:
    page = watched.page
    env = {**console.env, "LINEAGE_PAGE_SIZE_MAX": "2"}  # the catalog's first two views only
    for url in _serve(["lineage", "serve"], env, tmp_path / "lineage.log"):
        sign_in(watched, url, console.auditor)
        expect(
            page.locator("#catalog").get_by_role("link", name="customer_profile")
        ).to_be_visible()
        expect(page.locator("#catalog").get_by_role("link", name="merchant_risk")).to_have_count(0)
        page.goto(f"{url}/console/#/dataset/skewless/feature_view%2Fmerchant_risk")
        view = page.locator("#dataset")
        expect(view.locator("h2", has_text="Data")).to_have_text("Data offline/merchant_risk")
        expect(view).to_contain_text("Freshness: fresh (newest_age<=")
        expect(view).not_to_contain_text("No data ingested yet")
        watched.shot("view-past-first-page")
        page.goto(f"{url}/console/#/dataset/skewless/feature_service%2Ffraud_detection_v2")
        expect(page.locator("#dataset .chart .bar.bad")).to_have_count(1)  # credit_limit's bar
    assert watched.errors == []


def test_an_invalid_control_keeps_the_form_to_correct_it_and_counts_read_well(
    console: Console, watched: WatchedPage
) -> None:
    page = watched.page
    sign_in(watched, console.url, console.auditor)
    page.goto(f"{console.url}/console/#/graph?node={DEMO_NODE}&depth=abc")
    expect(page.locator("#graph .error")).to_contain_text("422: ")
    page.fill("input[name=depth]", "0")  # the controls stayed: correct the depth and draw
    page.click("#graph button[type=submit]")
    expect(page.locator("#graph-summary")).to_have_text("1 node (1 dataset)")
    page.goto(f"{console.url}/console/#/audit?since=garbage")
    expect(page.locator("#audit .error")).to_contain_text("422: ")
    expect(page.locator("#audit input[name=principal]")).to_be_visible()
    page.goto(f"{console.url}/console/#/history?node=dataset:skewless:served/fraud_detection_v2")
    expect(page.locator("#history")).to_contain_text("dataset: 1 entry, newest first.")
    assert _uncaught(watched) == []
