"""Identity names, the authorization model, hashed tokens, and the CLI."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from lineage import access, identity
from lineage.cli import app as cli_app
from lineage.db.models import Token
from lineage.db.session import session_scope


def test_identity_names() -> None:
    assert identity.source_dataset("customer_transactions_daily") == (
        "offline/customer_transactions_daily"
    )
    assert identity.feature_view_dataset("v") == "feature_view/v"
    assert identity.online_dataset("v") == "online/v"
    assert identity.training_set_dataset("t") == "training_set/t"
    assert identity.job_name("ingest", "customer_profile") == "ingest.customer_profile"
    with pytest.raises(ValueError, match="invalid"):
        identity.source_dataset("../etc")


@pytest.mark.parametrize(
    ("role", "action", "namespace", "allowed"),
    [
        ("admin", "admin", "x", True),
        ("producer", "write", "skewless", True),
        ("producer", "write", "finance", False),
        ("producer", "admin", "skewless", False),
        ("consumer", "read", "skewless", True),
        ("consumer", "read", "finance", False),
        ("consumer", "write", "skewless", False),
        ("auditor", "read", "finance", True),
        ("auditor", "audit", "*", True),
        ("auditor", "write", "skewless", False),
    ],
)
def test_authorize(role, action, namespace, allowed) -> None:
    principal = access.Principal("p", role, frozenset({"skewless"}))
    assert access.authorize(principal, action, namespace) is allowed


def test_tokens_are_stored_hashed_and_authenticate(session) -> None:
    token = access.create_token(session, "p", "consumer", ["skewless"])
    stored = session.scalars(select(Token.token_hash)).all()
    assert token not in stored
    assert stored == [access.hash_token(token)]
    principal = access.authenticate(session, token)
    assert principal == access.Principal("p", "consumer", frozenset({"skewless"}))
    assert access.authenticate(session, token + "x") is None


def test_cli_token_summary_and_graph(db_url, maker, golden, monkeypatch) -> None:
    from lineage import service

    with session_scope(maker) as s:
        service.ingest_event(s, golden("ingest_complete"))
    monkeypatch.setenv("LINEAGE_DATABASE_URL", db_url)
    runner = CliRunner()
    created = runner.invoke(
        cli_app,
        [
            "token",
            "create",
            "--principal",
            "bob",
            "--role",
            "consumer",
            "--namespace",
            "skewless",
            "--json",
        ],
    )
    assert created.exit_code == 0, created.output
    out = json.loads(created.output)
    assert out["principal"] == "bob"
    assert out["token"].startswith("skl_")
    listed = runner.invoke(cli_app, ["token", "list", "--json"])
    assert out["token"] not in listed.output
    summary = json.loads(runner.invoke(cli_app, ["summary", "--json"]).output)
    assert summary["runs"] == {"COMPLETE": 1}
    impact = runner.invoke(cli_app, ["impact", "raw/customer_transactions", "raw-v1", "--json"])
    assert json.loads(impact.output)["modelVersions"] == []
    missing = runner.invoke(cli_app, ["provenance", "nope", "1", "--json"])
    assert missing.exit_code == 2
    graph = runner.invoke(cli_app, ["graph", "job:skewless:ingest.customer_transactions"])
    assert graph.exit_code == 0, graph.output
    bad_role = runner.invoke(cli_app, ["token", "create", "--principal", "x", "--role", "root"])
    assert bad_role.exit_code == 2
