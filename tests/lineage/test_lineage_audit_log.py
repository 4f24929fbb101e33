"""The audit log over HTTP: its filters, and that no request succeeds without its audit entry
(the audit table made to refuse inserts with a real database trigger); SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from lineage.cli import app as cli_app
from lineage.db.session import make_engine

AUDIT = "/api/v1/audit"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_audit_filters_by_object_and_time_window(client: TestClient, make_token) -> None:
    auditor = bearer(make_token("aud", "auditor"))
    admin = bearer(make_token("root", "admin", "*"))
    client.get("/api/v1/lineage", params={"nodeId": "job:skewless:early"}, headers=admin)
    middle = datetime.now(UTC)
    client.get("/api/v1/lineage", params={"nodeId": "job:skewless:late"}, headers=admin)
    client.get("/api/v1/provenance/models/late/1", headers=admin)
    end = datetime.now(UTC)
    client.get("/api/v1/lineage", params={"nodeId": "job:skewless:after"}, headers=admin)

    def objects(**params: str) -> list[str]:
        response = client.get(AUDIT, params={"principal": "root", **params}, headers=auditor)
        assert response.status_code == 200, response.text
        return [e["object"] for e in response.json()["entries"]]

    assert objects(object="job:skewless:late") == ["job:skewless:late"]
    assert objects(object="model:late:1") == ["model:late:1"]
    assert objects(object="job:skewless:nowhere") == []
    assert objects(since=middle.isoformat(), until=end.isoformat()) == [
        "model:late:1",
        "job:skewless:late",
    ]
    assert objects(until=middle.isoformat()) == ["job:skewless:early"]
    assert objects(since=end.isoformat())[-1] == "job:skewless:after"
    naive = middle.replace(tzinfo=None).isoformat()  # naive means UTC
    assert objects(since=naive, until=end.isoformat()) == ["model:late:1", "job:skewless:late"]
    bad = client.get(AUDIT, params={"since": "yesterday"}, headers=auditor)
    assert bad.status_code == 422


_BREAK = {
    "sqlite": [
        "CREATE TRIGGER audit_down BEFORE INSERT ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit log down'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION audit_down() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit log down'; END $$",
        "CREATE TRIGGER audit_down BEFORE INSERT ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_down()",
    ],
}
_MEND = {
    "sqlite": ["DROP TRIGGER audit_down"],
    "postgresql": ["DROP TRIGGER audit_down ON audit_log", "DROP FUNCTION audit_down()"],
}


class AuditSwitch:
    """Makes the real audit table refuse (or accept again) every insert, with a trigger."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name
        self.broken = False

    def _run(self, statements: list[str]) -> None:
        with self.engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))

    def break_(self) -> None:
        self._run(_BREAK[self.dialect])
        self.broken = True

    def mend(self) -> None:
        if self.broken:
            self._run(_MEND[self.dialect])
            self.broken = False


@pytest.fixture
def audit_switch(db_url: str) -> Iterator[AuditSwitch]:
    switch = AuditSwitch(db_url)
    try:
        yield switch
    finally:
        switch.mend()  # the database is shared by the session's later tests
        switch.engine.dispose()


def test_a_request_whose_audit_entry_fails_is_503_not_answered(
    client: TestClient, make_token, audit_switch: AuditSwitch
) -> None:
    admin = bearer(make_token("root", "admin", "*"))
    assert client.get("/api/v1/tokens", headers=admin).status_code == 200
    audit_switch.break_()
    refused = client.get("/api/v1/tokens", headers=admin)
    assert refused.status_code == 503
    assert refused.json()["code"] == "unavailable"
    assert "root" not in refused.text  # the token list was not sent
    assert client.get("/api/v1/tokens").status_code == 503  # a denial is not answered either
    assert client.get("/health").json() == {"status": "ok", "database": True}  # not audited
    audit_switch.mend()
    assert client.get("/api/v1/tokens", headers=admin).status_code == 200
    auditor = bearer(make_token("aud", "auditor"))
    entries = client.get(AUDIT, params={"principal": "root"}, headers=auditor).json()["entries"]
    assert [e["action"] for e in entries] == ["GET /api/v1/tokens"] * 2  # before and after


def test_a_change_whose_audit_entry_fails_does_not_land(
    client: TestClient, make_token, audit_switch: AuditSwitch
) -> None:
    """The change and its audit entry commit together: a 503 leaves nothing behind."""
    admin = bearer(make_token("root", "admin", "*"))
    audit_switch.break_()
    body = {"principal": "ghost", "role": "consumer", "namespaces": ["skewless"]}
    refused = client.post("/api/v1/tokens", json=body, headers=admin)
    assert refused.status_code == 503
    assert "token" not in refused.json()
    audit_switch.mend()
    listed = client.get("/api/v1/tokens", headers=admin).json()
    assert [t["principal"] for t in listed] == ["root"]
    made = client.post("/api/v1/tokens", json=body, headers=admin)
    assert made.status_code == 201
    auditor = bearer(make_token("aud", "auditor"))
    entries = client.get(AUDIT, params={"principal": "root"}, headers=auditor).json()["entries"]
    newest_first = ["POST /api/v1/tokens", "GET /api/v1/tokens"]
    assert [e["action"] for e in entries] == newest_first


def test_a_cli_read_whose_audit_entry_fails_reads_nothing(
    db_url: str, audit_switch: AuditSwitch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINEAGE_DATABASE_URL", db_url)
    audit_switch.break_()
    result = CliRunner().invoke(cli_app, ["summary", "--json"])
    assert result.exit_code == 1
    assert "could not write the audit log" in result.output
    assert "datasets" not in result.output
