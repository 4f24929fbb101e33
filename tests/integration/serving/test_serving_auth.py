"""The feature server uses the lineage plane's tokens: 401 without, 403 outside the role."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from services.cli import app
from services.settings import Settings
from tests.integration.serving.conftest import ServerThread, load_project

runner = CliRunner()


def _token(role: str) -> str:
    r = runner.invoke(
        app,
        [
            "lineage",
            "token",
            "create",
            "--principal",
            f"p-{role}",
            "--role",
            role,
            "--namespace",
            "skewless",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    return str(json.loads(r.output)["token"])


def test_tokens_roles_and_static_token(
    make_settings: Callable[..., Settings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings("sqlite")
    monkeypatch.setenv("LINEAGE_DATABASE_URL", settings.effective_lineage_database_url)
    load_project(settings, tmp_path)
    assert runner.invoke(app, ["lineage", "migrate"]).exit_code == 0
    tokens = {role: _token(role) for role in ("consumer", "producer", "auditor")}
    read = {"features": ["merchant_risk:fraud_rate_30d"], "entities": {"merchant_id": [1]}}
    push = {
        "push_source_name": "merchant_risk",
        "df": {
            "merchant_id": [5000],
            "event_timestamp": ["2026-01-01T00:00:00Z"],
            "created_timestamp": ["2026-01-01T00:00:00Z"],
            "merchant_category": ["fuel"],
            "fraud_rate_30d": [0.1],
            "chargeback_rate_30d": [0.1],
            "txn_volume_30d": [1],
        },
    }
    with ServerThread(settings) as srv, httpx.Client(base_url=srv.url, timeout=10) as client:

        def call(path: str, body: object, token: str | None) -> int:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return client.post(path, json=body, headers=headers).status_code

        assert call("/get-online-features", read, None) == 401
        assert call("/get-online-features", read, "skl_not-a-token") == 401
        assert call("/get-online-features", read, tokens["consumer"]) == 200
        assert call("/get-online-features", read, tokens["producer"]) == 200
        assert call("/get-online-features", read, tokens["auditor"]) == 403
        assert call("/push", push, tokens["consumer"]) == 403
        assert call("/push", push, None) == 401
        assert call("/push", push, tokens["producer"]) == 200
        assert client.get("/health").status_code == 200  # probes need no token
    # Every read and denial is in the hash-chained audit log (flushed at shutdown at the latest).
    reads = runner.invoke(app, ["lineage", "reads", "merchant_risk", "--json"])
    assert reads.exit_code == 0, reads.output
    principals = {e["principal"] for e in json.loads(reads.output)["accesses"]}
    assert principals == {"p-consumer", "p-producer"}
    verify = runner.invoke(app, ["lineage", "audit", "verify"])
    assert verify.exit_code == 0, verify.output
