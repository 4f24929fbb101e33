"""A token keeps the role and grants it was issued with; admins revoke grants, audited.

Regression (hardening #4): issuing a token to an existing principal used to rewrite the role and
add the grants of every token that principal held, so a consumer token became an admin token.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from lineage import access, token_admin
from lineage.audit import list_audit
from lineage.audit_verify import verify_chain
from lineage.cli import app as cli_app
from lineage.cli import cli_principal
from lineage.db.session import session_scope

LINEAGE = "/api/v1/lineage"
TOKENS = "/api/v1/tokens"
FAR = "postgres://db:5432"  # a namespace with ':' and '/' (OpenLineage namespaces are URIs)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def event(namespace: str, run: int) -> dict[str, object]:
    return {
        "eventType": "COMPLETE",
        "eventTime": "2026-11-20T12:00:00+00:00",
        "producer": "https://github.com/skewless/skewless/tree/main/tests",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": f"0190a1b2-0000-7000-8000-{run:012d}"},
        "job": {"namespace": namespace, "name": "tokens.job"},
    }


def token_id(client: TestClient, admin: dict[str, str], principal: str, *grants: str) -> int:
    listed = client.get(TOKENS, headers=admin).json()
    return next(
        int(t["id"])
        for t in listed
        if t["principal"] == principal and sorted(t["namespaces"]) == sorted(grants)
    )


def test_each_token_keeps_the_role_and_grants_it_was_issued_with(session) -> None:
    consumer = token_admin.create_token(session, "alice", "consumer", ["skewless"])
    admin = token_admin.create_token(session, "alice", "admin", ["*"])
    producer = token_admin.create_token(session, "alice", "producer", ["finance"])
    assert access.authenticate(session, consumer) == access.Principal(
        "alice", "consumer", frozenset({"skewless"})
    )
    assert access.authenticate(session, admin) == access.Principal(
        "alice", "admin", frozenset({"*"})
    )
    assert access.authenticate(session, producer) == access.Principal(
        "alice", "producer", frozenset({"finance"})
    )
    assert [(t.principal, t.role, t.namespaces) for t in token_admin.list_tokens(session)] == [
        ("alice", "consumer", ("skewless",)),
        ("alice", "admin", ("*",)),
        ("alice", "producer", ("finance",)),
    ]


def test_issuing_an_admin_token_over_http_leaves_the_consumer_token_a_consumer(
    client: TestClient, make_token
) -> None:
    admin = bearer(make_token("root", "admin", "*"))
    body = {"principal": "kim", "role": "consumer", "namespaces": ["skewless"]}
    consumer = client.post(TOKENS, json=body, headers=admin).json()["token"]
    body = {"principal": "kim", "role": "admin", "namespaces": ["*"]}
    assert client.post(TOKENS, json=body, headers=admin).status_code == 201
    assert client.get(TOKENS, headers=bearer(consumer)).status_code == 403
    # Intake reads callers with its own query (one round trip per batch): same answer there.
    refused = client.post(LINEAGE, json=event("skewless", 1), headers=bearer(consumer))
    assert refused.status_code == 403, refused.text
    roles = {(t["role"], tuple(t["namespaces"])) for t in client.get(TOKENS, headers=admin).json()}
    assert {("consumer", ("skewless",)), ("admin", ("*",))} <= roles


def test_an_admin_revokes_one_grant_of_one_token_over_http_audited(
    client: TestClient, make_token
) -> None:
    root = make_token("root", "admin", "*")
    admin = bearer(root)
    wide = make_token("p", "producer", "skewless", "finance", FAR)
    narrow = make_token("p", "producer", "finance")
    wide_id = token_id(client, admin, "p", "skewless", "finance", FAR)
    path = f"{TOKENS}/{wide_id}/grants"
    assert client.delete(f"{path}/finance", headers=bearer(wide)).status_code == 403
    assert client.delete(f"{path}/finance").status_code == 401
    assert client.delete(f"{path}/finance", headers=admin).status_code == 204
    assert client.delete(f"{path}/{quote(FAR, safe='')}", headers=admin).status_code == 204
    assert client.post(LINEAGE, json=event("finance", 2), headers=bearer(wide)).status_code == 403
    assert client.post(LINEAGE, json=event(FAR, 3), headers=bearer(wide)).status_code == 403
    assert client.post(LINEAGE, json=event("skewless", 4), headers=bearer(wide)).status_code == 201
    # The principal's other token is untouched: grants belong to tokens.
    assert client.post(LINEAGE, json=event("finance", 5), headers=bearer(narrow)).status_code == 201
    again = client.delete(f"{path}/finance", headers=admin)
    assert (again.status_code, again.json()["code"]) == (404, "not_found")
    assert "finance" in again.json()["detail"]
    assert client.delete(f"{TOKENS}/999999/grants/finance", headers=admin).status_code == 404
    listed = {t["id"]: t["namespaces"] for t in client.get(TOKENS, headers=admin).json()}
    assert listed[wide_id] == ["skewless"]
    entries = client.get(
        "/api/v1/audit", params={"object": f"token:{wide_id} grant:finance"}, headers=admin
    ).json()["entries"]
    assert [(e["principal"], e["allowed"]) for e in reversed(entries)] == [
        ("p", False),
        ("root", True),
        ("root", True),  # the second attempt (404) is recorded too
    ]
    assert {e["action"] for e in entries} == {
        "DELETE /api/v1/tokens/{token_id}/grants/{namespace:path}"
    }


def test_cli_revokes_a_grant_audited_and_says_when_there_is_none(
    db_url, maker, client: TestClient, monkeypatch
) -> None:
    monkeypatch.setenv("LINEAGE_DATABASE_URL", db_url)
    runner = CliRunner()
    with session_scope(maker) as s:
        token = token_admin.create_token(s, "bob", "consumer", ["skewless", "finance"])
        (info,) = token_admin.list_tokens(s)
    done = runner.invoke(cli_app, ["token", "revoke-grant", str(info.id), "finance"])
    assert done.exit_code == 0, done.output
    assert f"revoked grant 'finance' of token {info.id}" in done.output
    with session_scope(maker) as s:
        assert access.authenticate(s, token) == access.Principal(
            "bob", "consumer", frozenset({"skewless"})
        )
    again = runner.invoke(cli_app, ["token", "revoke-grant", str(info.id), "finance"])
    assert again.exit_code == 2
    assert "grant not found" in again.output
    assert "Traceback" not in again.output
    with session_scope(maker) as s:
        entries = [
            (e.principal, e.action, e.object, e.allowed) for e in reversed(list_audit(s, limit=10))
        ]
        assert verify_chain(s, key=None) is None
    audited = (cli_principal(), "cli lineage token revoke-grant", f"token:{info.id} grant:finance")
    assert entries == [(*audited, True), (*audited, True)]
    listed = json.loads(runner.invoke(cli_app, ["token", "list", "--json"]).output)
    assert listed[0]["namespaces"] == ["skewless"]
