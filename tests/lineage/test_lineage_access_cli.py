"""Identity names, the authorization model, hashed tokens, and the CLI."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from lineage import access, identity, token_admin
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
    token = token_admin.create_token(session, "p", "consumer", ["skewless"])
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


def test_cli_token_revoke_makes_the_token_401(db_url, client, monkeypatch) -> None:
    monkeypatch.setenv("LINEAGE_DATABASE_URL", db_url)
    runner = CliRunner()
    created = runner.invoke(
        cli_app, ["token", "create", "--principal", "eve", "--role", "admin", "--json"]
    )
    assert created.exit_code == 0, created.output
    token = json.loads(created.output)["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/tokens", headers=headers).status_code == 200
    listed = json.loads(runner.invoke(cli_app, ["token", "list", "--json"]).output)
    token_id = next(t["id"] for t in listed if t["principal"] == "eve")
    revoked = runner.invoke(cli_app, ["token", "revoke", str(token_id)])
    assert revoked.exit_code == 0, revoked.output
    assert f"revoked token {token_id}" in revoked.output
    assert client.get("/api/v1/tokens", headers=headers).status_code == 401
    listed = json.loads(runner.invoke(cli_app, ["token", "list", "--json"]).output)
    assert next(t for t in listed if t["id"] == token_id)["revoked_at"] is not None
    again = runner.invoke(cli_app, ["token", "revoke", str(token_id)])  # it stays revoked
    assert again.exit_code == 0, again.output
    assert f"token {token_id} is already revoked" in again.output


def test_cli_reads_are_audited_as_the_local_user(db_url, maker, golden, monkeypatch) -> None:
    from lineage import service
    from lineage.audit import list_audit
    from lineage.audit_verify import verify_chain
    from lineage.cli import cli_principal

    with session_scope(maker) as s:
        for name in ("ingest_complete", "training_complete"):
            service.ingest_event(s, golden(name))
        service.register_model(s, "churn", "1", "ts-v1", {})
    monkeypatch.setenv("LINEAGE_DATABASE_URL", db_url)
    runner = CliRunner()
    job = "job:skewless:ingest.customer_transactions"
    view = "dataset:skewless:feature_view/txn"
    commands = [  # (arguments, audited action, audited object)
        (["provenance", "churn", "1", "--json"], "provenance", "model:churn:1"),
        (["provenance", "nope", "1", "--json"], "provenance", "model:nope:1"),  # fails: recorded
        (
            ["impact", "raw/customer_transactions", "raw-v1", "--json"],
            "impact",
            "datasetVersion:skewless:raw/customer_transactions#raw-v1",
        ),
        (["graph", job], "graph", job),
        (["history", job, "--json"], "history", job),
        (["usage", "txn", "--json"], "usage", view),
        (["reads", "txn", "--json"], "reads", view),
        (["summary", "--json"], "summary", "summary"),
        (["token", "list", "--json"], "token list", "tokens"),
    ]
    for args, _, _ in commands:
        runner.invoke(cli_app, args)
    with session_scope(maker) as s:
        entries = list(reversed(list_audit(s, limit=100)))
        assert verify_chain(s, key=None) is None
    assert [(e.action, e.object) for e in entries] == [
        (f"cli lineage {action}", obj) for _, action, obj in commands
    ]
    assert {(e.principal, e.source_address, e.allowed) for e in entries} == {
        (cli_principal(), "cli", True)
    }
    assert cli_principal().startswith("local:")
