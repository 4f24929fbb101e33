"""The lineage service's /metrics move with real requests; the CLI prints tables people read.

Metrics are read from a running server after real intake, queries and refusals. The CLI's
tables are read back (a wide terminal, so nothing is cut), ``--json`` is the service's answer
unchanged, ``audit list`` filters like the API, and ``skewless --version`` and ``--role`` say
what they should.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest
from typer.testing import CliRunner

from lineage import service
from lineage.cli import app as cli_app
from lineage.db.session import session_scope
from lineage.identity import NAMESPACE
from lineage.settings import LineageSettings
from services.cli import app as skewless_app
from tests.lineage.test_lineage_http import ServiceThread, _run_event, free_port

WIDE = {"COLUMNS": "250"}


@pytest.fixture
def api(settings: LineageSettings) -> Iterator[httpx.Client]:
    served = settings.model_copy(update={"intake_writer": "process"})
    with ServiceThread(served, free_port()) as svc, httpx.Client(base_url=svc.url) as client:
        yield client


def _value(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name + (f"{{{wanted}}}" if wanted else "")) + r" ([0-9.e+]+)"
    found = re.search(pattern, text)
    return float(found.group(1)) if found else 0.0


def test_metrics_count_intake_batches_routes_audit_and_refusals(api, make_token) -> None:
    token = make_token("metrics-producer", "producer", NAMESPACE)
    headers = {"Authorization": f"Bearer {token}"}
    for name in ("a", "b"):
        assert api.post(
            "/api/v1/lineage", json=_run_event(NAMESPACE, name), headers=headers
        ).is_success
    assert api.post("/api/v1/lineage", json={"eventTime": "x"}, headers=headers).status_code == 422
    assert api.post("/api/v1/lineage", json=_run_event(NAMESPACE, "c")).status_code == 401
    graph = api.get("/api/v1/lineage", params={"nodeId": f"job:{NAMESPACE}:a"}, headers=headers)
    assert graph.status_code == 200, graph.text
    assert api.get(f"/api/v1/namespaces/{NAMESPACE}", headers=headers).status_code == 200
    text = api.get("/metrics").text
    assert _value(text, "lineage_intake_events_total", status="201") == 2
    assert _value(text, "lineage_intake_events_total", status="422") == 1
    assert _value(text, "lineage_intake_events_total", status="401") == 1
    assert _value(text, "lineage_intake_batches_total") >= 1
    assert _value(text, "lineage_requests_total", route="/api/v1/lineage", status="200") == 1
    assert (
        _value(
            text,
            "lineage_requests_total",
            route="/api/v1/namespaces/{namespace:path}",
            status="200",
        )
        == 1
    )
    assert _value(text, "lineage_audit_appends_total") == 6  # every audited request, once
    assert _value(text, "lineage_database_errors_total") == 0
    assert "lineage_request_seconds_bucket" in text
    again = api.get("/metrics").text  # neither audited nor counted itself
    assert _value(again, "lineage_audit_appends_total") == 6


def test_cli_tables_read_back_and_json_is_the_answer(maker, make_token, db_url, monkeypatch):
    monkeypatch.setenv("LINEAGE_DATABASE_URL", db_url)
    with session_scope(maker) as s:
        service.ingest_event(s, _run_event(NAMESPACE, "job_x"))
    runner = CliRunner()
    node = f"job:{NAMESPACE}:job_x"
    as_json = runner.invoke(cli_app, ["graph", node, "--json"])
    assert as_json.exit_code == 0, as_json.output
    with session_scope(maker) as s:
        assert json.loads(as_json.output) == json.loads(
            json.dumps(service.lineage_graph(s, node, 2, None), default=str)
        )
    table = runner.invoke(cli_app, ["graph", node], env=WIDE)
    assert table.exit_code == 0, table.output
    rows = {
        cells[0]: cells[1:]
        for line in table.output.splitlines()
        if (cells := [c.strip() for c in line.strip("│┃ ").split("│")]) and len(cells) == 4
    }
    assert rows[node][0] == "JOB"
    assert rows[f"dataset:{NAMESPACE}:job_x_out"][0] == "DATASET"
    assert f"-> dataset:{NAMESPACE}:job_x_out" in table.output  # the edge tree

    listed = runner.invoke(cli_app, ["audit", "list", "--object", node, "--json"])
    assert listed.exit_code == 0, listed.output
    entries = json.loads(listed.output)["entries"]
    assert entries
    assert {e["object"] for e in entries} == {node}
    audit_table = runner.invoke(cli_app, ["audit", "list", "--limit", "2"], env=WIDE)
    assert audit_table.exit_code == 0, audit_table.output
    assert "principal" in audit_table.output
    assert "local:" in audit_table.output

    version = runner.invoke(skewless_app, ["--version"])
    assert version.exit_code == 0
    assert re.fullmatch(r"skewless \S+ \(feast 0\.67\.\d+\)\n", version.output)
    role_help = runner.invoke(cli_app, ["token", "create", "--help"], env=WIDE)
    assert "admin|producer|consumer|auditor" in role_help.output
    bad_role = runner.invoke(cli_app, ["token", "create", "--principal", "x", "--role", "root"])
    assert bad_role.exit_code == 2
