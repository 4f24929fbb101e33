"""The feature server uses the lineage plane's tokens: 401 without, 403 outside the role."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from typer.testing import CliRunner

from lineage.audit import list_audit
from lineage.db.session import make_engine, make_sessionmaker, session_scope
from services.cli import app
from services.settings import Settings
from tests.integration.serving.conftest import ServerThread, load_project

runner = CliRunner()
PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def _token(role: str, namespace: str = "skewless") -> str:
    principal = f"p-{role}" if namespace == "skewless" else f"p-{role}-{namespace}"
    r = runner.invoke(
        app,
        [
            "lineage",
            "token",
            "create",
            "--principal",
            principal,
            "--role",
            role,
            "--namespace",
            namespace,
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    return str(json.loads(r.output)["token"])


READ = {"features": ["merchant_risk:fraud_rate_30d"], "entities": {"merchant_id": [1]}}
PUSH = {
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


def test_tokens_roles_and_static_token(
    make_settings: Callable[..., Settings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings("sqlite")
    monkeypatch.setenv("LINEAGE_DATABASE_URL", settings.effective_lineage_database_url)
    load_project(settings, tmp_path)
    assert runner.invoke(app, ["lineage", "migrate"]).exit_code == 0
    tokens = {role: _token(role) for role in ("consumer", "producer", "auditor")}
    outside = {role: _token(role, "finance") for role in ("consumer", "producer")}
    read, push = READ, PUSH
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
        # The right role is not enough: the feature view's namespace must be granted.
        assert call("/get-online-features", read, outside["consumer"]) == 403
        assert call("/get-online-features", read, outside["producer"]) == 403
        assert call("/push", push, outside["producer"]) == 403
        refs = {"features": ["merchant_risk:fraud_rate_30d"], "entities": {"merchant_id": [5000]}}
        before_push = client.post(
            "/get-online-features",
            json=refs,
            headers={"Authorization": f"Bearer {tokens['consumer']}"},
        )
        assert before_push.json()["results"][1]["statuses"] == ["NOT_FOUND"]  # nothing written
        assert call("/push", push, tokens["producer"]) == 200
        assert client.get("/health").status_code == 200  # probes need no token
    # Every read and denial is in the hash-chained audit log (flushed at shutdown at the latest).
    reads = runner.invoke(app, ["lineage", "reads", "merchant_risk", "--json"])
    assert reads.exit_code == 0, reads.output
    decisions = {(e["principal"], e["allowed"]) for e in json.loads(reads.output)["accesses"]}
    assert decisions == {
        ("p-consumer", True),
        ("p-producer", True),
        ("p-consumer-finance", False),
        ("p-producer-finance", False),
    }
    verify = runner.invoke(app, ["lineage", "audit", "verify"])
    assert verify.exit_code == 0, verify.output


def _status(client: httpx.Client, path: str, body: object, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(path, json=body, headers=headers)


def test_an_unreachable_token_store_is_503_never_open_access(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    # A real PostgreSQL URL on a port nothing listens on: every connection is refused.
    settings = make_settings(
        "sqlite", lineage_database_url="postgresql+psycopg://postgres@127.0.0.1:1/nowhere"
    )
    load_project(settings, tmp_path)  # its lineage is spooled, not lost
    with ServerThread(settings) as srv, httpx.Client(base_url=srv.url, timeout=10) as client:
        for token in (None, "skl_some-token"):
            for path, body in (("/get-online-features", READ), ("/push", PUSH)):
                response = _status(client, path, body, token)
                assert response.status_code == 503, (path, token, response.text)
                assert response.json()["error"] == "auth_unavailable"
        assert client.get("/health").status_code == 200


@pytest.mark.integration
def test_a_token_store_lost_after_startup_is_503_for_unseen_tokens(
    make_settings: Callable[..., Settings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"serving_auth_{uuid.uuid4().hex}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        settings = make_settings("sqlite", lineage_database_url=url)
        monkeypatch.setenv("LINEAGE_DATABASE_URL", url)
        load_project(settings, tmp_path)
        seen, unseen = _token("consumer"), _token("producer")
        with ServerThread(settings) as srv, httpx.Client(base_url=srv.url, timeout=10) as client:
            assert _status(client, "/get-online-features", READ, seen).status_code == 200
            with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            for token in (unseen, "skl_not-a-token"):
                response = _status(client, "/get-online-features", READ, token)
                assert response.status_code == 503, response.text  # not 200, and not 401
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_no_tokens_outside_the_local_profile_is_401_not_open(
    make_settings: Callable[..., Settings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lineage_db = f"sqlite:///{tmp_path / 'lineage.db'}"
    local = make_settings("sqlite", lineage_database_url=lineage_db)
    monkeypatch.setenv("LINEAGE_DATABASE_URL", lineage_db)
    load_project(local, tmp_path)
    assert runner.invoke(app, ["lineage", "migrate"]).exit_code == 0  # migrated, no token
    with ServerThread(local) as srv, httpx.Client(base_url=srv.url, timeout=10) as client:
        assert _status(client, "/get-online-features", READ, None).status_code == 200
    production = local.model_copy(update={"profile": "production"})
    with ServerThread(production) as srv, httpx.Client(base_url=srv.url, timeout=10) as client:
        for token in (None, "skl_not-a-token"):
            for path, body in (("/get-online-features", READ), ("/push", PUSH)):
                response = _status(client, path, body, token)
                assert response.status_code == 401, (path, token, response.text)


def test_chunked_bodies_are_capped_and_push_authenticates_before_reading(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """Regression (hardening #1): a chunked body is counted as it is read, on every route."""
    settings = make_settings("sqlite", serve_token="a-static-test-token", serve_max_body_bytes=4096)
    load_project(settings, tmp_path)

    def chunks(total: int) -> Iterator[bytes]:
        sent = 0
        while sent < total:  # no Content-Length: httpx sends it chunked
            yield b" " * 1024
            sent += 1024

    auth = {"Authorization": "Bearer a-static-test-token"}
    with ServerThread(settings) as srv, httpx.Client(base_url=srv.url, timeout=10) as client:
        for path in ("/push", "/get-online-features"):
            big = client.post(path, content=chunks(64 * 1024), headers=auth)
            assert big.status_code == 413, (path, big.text)
            assert "4096" in big.json()["detail"]
        # No token: 401 before the body is parsed (a truncated body is not a 422 first).
        bare = client.post("/push", content=b'{"push_source_name": "merch')
        assert bare.status_code == 401
        # The server still answers, and a body within the cap still works.
        ok = client.post("/get-online-features", json=READ, headers=auth)
        assert ok.status_code == 200, ok.text


def test_grants_are_per_feature_view_and_pii_needs_its_classification(
    make_settings: Callable[..., Settings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression (hardening #10): grants deny views, and PII fields need their classification."""
    settings = make_settings("sqlite")
    monkeypatch.setenv("LINEAGE_DATABASE_URL", settings.effective_lineage_database_url)
    load_project(settings, tmp_path)
    assert runner.invoke(app, ["lineage", "migrate"]).exit_code == 0
    whole = _token("consumer")  # the whole namespace
    one_view = _token("consumer", "skewless/feature_view/merchant_risk")
    pii = _token("consumer", "pii:confidential")  # a classification grant alone reads no view
    profile = {"features": ["customer_profile:country"], "entities": {"customer_id": [1]}}
    postcode = {"features": ["customer_profile:postcode_hash"], "entities": {"customer_id": [1]}}
    service = {"feature_service": "fraud_detection_v1", "entities": {"customer_id": [1]}}
    service["entities"]["transaction_amount"] = [10.0]
    with ServerThread(settings) as srv, httpx.Client(base_url=srv.url, timeout=10) as client:

        def status(body: object, *tokens: str) -> int:
            return client.post(
                "/get-online-features", json=body, headers={"Authorization": f"Bearer {tokens[0]}"}
            ).status_code

        assert status(READ, one_view) == 200
        assert status(profile, one_view) == 403  # a view outside the token's grants
        assert status(profile, whole) == 200
        assert status(service, whole) == 200  # the service selects no PII field
        denied = client.post(
            "/get-online-features", json=postcode, headers={"Authorization": f"Bearer {whole}"}
        )
        assert denied.status_code == 403
        assert "pii:confidential" in denied.json()["detail"]
        assert status(postcode, pii) == 403  # no grant on the view
    both = _token_with("p-analyst", "consumer", ["skewless", "pii:confidential"])
    with ServerThread(settings) as srv, httpx.Client(base_url=srv.url, timeout=10) as client:
        allowed = client.post(
            "/get-online-features", json=postcode, headers={"Authorization": f"Bearer {both}"}
        )
        assert allowed.status_code == 200, allowed.text
    # Each PII field read, refused or allowed, is an entry of the hash-chained audit log.
    engine = make_engine(settings.effective_lineage_database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            entries = list_audit(session, obj="field/customer_profile:postcode_hash")
    finally:
        engine.dispose()
    # (the classification-only token was refused at the view, before any field was read)
    assert {(e.principal, e.allowed) for e in entries} == {
        ("p-consumer", False),
        ("p-analyst", True),
    }
    assert runner.invoke(app, ["lineage", "audit", "verify"]).exit_code == 0


def _token_with(principal: str, role: str, grants: list[str]) -> str:
    args = ["lineage", "token", "create", "--principal", principal, "--role", role, "--json"]
    for grant in grants:
        args += ["--namespace", grant]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    return str(json.loads(r.output)["token"])
