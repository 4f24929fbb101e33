"""The audit chain against someone who can write the database, on SQLite and PostgreSQL.

Every row the audit API returns is verified (ids 1..N without gaps: a forged id <= 0 is a break),
the chain is keyed by ``LINEAGE_AUDIT_KEY`` (HMAC-SHA256: an edit re-hashed without the key is
still named), and signed checkpoints written by ``skewless lineage audit anchor`` make a
truncated tail or a rewritten anchored entry detectable. Attacks are plain SQL, as an attacker
would run them; verdicts come from the CLI, with DESIGN.md's exit codes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from click.testing import Result
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from lineage.api import create_app
from lineage.cli import app as cli_app
from lineage.db.models import AuditHead, AuditLog
from lineage.db.session import session_scope
from lineage.settings import LineageSettings
from services.settings import Settings

KEY = "k3y-of-the-audit-chain-0123456789abcdef"  # 39 characters
GENESIS = "0" * 64
Hasher = Callable[[list[object]], str]


def sha256(payload: list[object]) -> str:
    """What anyone can compute: the unkeyed hash of an entry's fields."""
    return hashlib.sha256(_canonical(payload)).hexdigest()


def hmac_with(key: str) -> Hasher:
    return lambda payload: hmac.new(key.encode(), _canonical(payload), hashlib.sha256).hexdigest()


def _canonical(payload: list[object]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def fields(row: AuditLog, entry_id: int, prev: str) -> list[object]:
    when = row.ts.astimezone(UTC).isoformat()
    return [
        entry_id,
        when,
        row.principal,
        row.action,
        row.object,
        row.allowed,
        row.source_address,
        prev,
    ]


def cli(*args: str) -> Result:
    return CliRunner().invoke(cli_app, list(args))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def ids(maker: sessionmaker[Session]) -> list[int]:
    with session_scope(maker) as s:
        return list(s.scalars(select(AuditLog.id).order_by(AuditLog.id)))


def rehash_from(maker: sessionmaker[Session], first: int, hasher: Hasher) -> None:
    """Re-link and re-hash every entry from ``first`` on, and move the head: an attacker's cover."""
    with session_scope(maker) as s:
        rows = list(s.scalars(select(AuditLog).where(AuditLog.id >= first).order_by(AuditLog.id)))
        before = s.scalar(
            select(AuditLog.hash).where(AuditLog.id < first).order_by(AuditLog.id.desc()).limit(1)
        )
        prev = before or GENESIS
        for row in rows:
            digest = hasher(fields(row, row.id, prev))
            s.execute(
                update(AuditLog).where(AuditLog.id == row.id).values(prev_hash=prev, hash=digest)
            )
            prev = digest
        last = rows[-1].id if rows else first - 1
        s.execute(update(AuditHead).where(AuditHead.id == 1).values(last_id=last, last_hash=prev))


def truncate_after(maker: sessionmaker[Session], last: int) -> None:
    """Delete the tail after entry ``last`` and move the head onto it (no re-hash needed)."""
    with session_scope(maker) as s:
        s.execute(delete(AuditLog).where(AuditLog.id > last))
        kept = s.scalar(select(AuditLog.hash).where(AuditLog.id == last))
        s.execute(update(AuditHead).where(AuditHead.id == 1).values(last_id=last, last_hash=kept))


def keyed_settings(db_url: str) -> LineageSettings:
    return LineageSettings(
        database_url=db_url,
        intake_writer="thread",
        audit_key=KEY,  # type: ignore[arg-type]
    )


def run_event(job: str) -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": datetime.now(UTC).isoformat(),
        "producer": "tests",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": "3f5e1a4c-9b1d-4f6e-8a2b-0c1d2e3f4a5b", "facets": {}},
        "job": {"namespace": "skewless", "name": job, "facets": {}},
        "inputs": [],
        "outputs": [],
    }


@pytest.fixture
def in_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The CLI pointed at the test database, on the local profile with no key."""
    monkeypatch.setenv("LINEAGE_DATABASE_URL", db_url)
    monkeypatch.delenv("LINEAGE_AUDIT_KEY", raising=False)
    monkeypatch.delenv("LINEAGE_PROFILE", raising=False)
    return monkeypatch


def cli_entries(count: int) -> None:
    """Append ``count`` audit entries the way an operator does: audited CLI reads."""
    for _ in range(count):
        assert cli("summary", "--json").exit_code == 0


class TestEveryRowIsVerified:
    def test_a_forged_row_with_id_below_one_is_broken_not_skipped(
        self, client: TestClient, make_token, maker, in_env
    ) -> None:
        auditor = make_token("aud", "auditor")
        cli_entries(3)
        assert cli("audit", "verify").exit_code == 0
        forged = {
            "ts": datetime.now(UTC),
            "principal": "root",
            "action": "GET /api/v1/tokens",
            "object": "tokens",
            "allowed": True,
            "source_address": "10.0.0.9",
        }
        when = forged["ts"].isoformat()  # type: ignore[attr-defined]
        payload = [-5, when, *list(forged.values())[1:], GENESIS]  # a well-formed entry -5
        with session_scope(maker) as s:
            s.execute(
                insert(AuditLog).values(id=-5, prev_hash=GENESIS, hash=sha256(payload), **forged)
            )
        listed = client.get("/api/v1/audit", params={"principal": "root"}, headers=bearer(auditor))
        assert [e["id"] for e in listed.json()["entries"]] == [-5]  # the API shows it ...
        result = cli("audit", "verify")
        assert result.exit_code == 1, result.output  # ... so verification covers it
        assert "entry -5" in result.output
        assert "Traceback" not in result.output

    def test_a_deleted_entry_is_named_even_when_the_rest_is_relinked(self, maker, in_env) -> None:
        cli_entries(6)
        with session_scope(maker) as s:
            s.execute(delete(AuditLog).where(AuditLog.id == 3))
        rehash_from(maker, 4, sha256)  # no key on the local profile: anyone can re-link
        result = cli("audit", "verify")
        assert result.exit_code == 1, result.output
        assert "entry 4" in result.output
        assert "expected 3" in result.output


class TestKeyedChain:
    def test_entries_are_hmac_keyed_and_an_edit_rehashed_without_the_key_is_named(
        self, db_url, maker, make_token, in_env
    ) -> None:
        in_env.setenv("LINEAGE_AUDIT_KEY", KEY)
        admin = make_token("root", "admin", "*")
        with TestClient(create_app(keyed_settings(db_url))) as client:
            assert client.get("/api/v1/tokens", headers=bearer(admin)).status_code == 200
            posted = client.post("/api/v1/lineage", json=run_event("keyed"), headers=bearer(admin))
            assert posted.status_code == 201, posted.text
        cli_entries(4)
        with session_scope(maker) as s:
            first = s.scalars(select(AuditLog).order_by(AuditLog.id)).first()
            assert first is not None
            assert first.hash == hmac_with(KEY)(fields(first, 1, GENESIS))
            assert first.hash != sha256(fields(first, 1, GENESIS))
        verified = cli("audit", "verify")
        assert (verified.exit_code, verified.output.strip()) == (0, "audit chain intact")

        with session_scope(maker) as s:
            s.execute(update(AuditLog).where(AuditLog.id == 3).values(principal="mallory"))
        rehash_from(maker, 3, sha256)  # everything after re-hashed, head moved: but no key
        result = cli("audit", "verify")
        assert result.exit_code == 1, result.output
        assert "entry 3" in result.output
        rehash_from(maker, 3, hmac_with("a-guessed-key-that-is-not-the-right-one"))
        assert "entry 3" in cli("audit", "verify").output

    def test_verifying_with_another_key_breaks_at_the_first_entry(self, maker, in_env) -> None:
        in_env.setenv("LINEAGE_AUDIT_KEY", KEY)
        cli_entries(2)
        assert cli("audit", "verify").exit_code == 0
        in_env.delenv("LINEAGE_AUDIT_KEY")
        result = cli("audit", "verify")
        assert result.exit_code == 1
        assert "entry 1" in result.output

    def test_the_process_writer_and_the_read_audit_sink_chain_with_the_key(
        self, db_url, make_token, in_env, tmp_path
    ) -> None:
        from services.serving.audit_sink import AuditSink

        in_env.setenv("LINEAGE_AUDIT_KEY", KEY)
        producer = make_token("writer", "producer", "skewless")
        settings = keyed_settings(db_url).model_copy(update={"intake_writer": "process"})
        with TestClient(create_app(settings)) as client:
            posted = client.post("/api/v1/lineage", json=run_event("p"), headers=bearer(producer))
            assert posted.status_code == 201, posted.text
        sink = AuditSink(db_url, tmp_path / "audit-wal", key=KEY)
        sink.append(
            ("p", "read", "feature_view/risk", True, "10.0.0.1", datetime.now(UTC).isoformat())
        )
        sink.close()
        result = cli("audit", "verify")
        assert (result.exit_code, result.output.strip()) == (0, "audit chain intact")
        in_env.delenv("LINEAGE_AUDIT_KEY")
        assert cli("audit", "verify").exit_code == 1  # they were keyed, not plain SHA-256


class TestAnchors:
    def test_truncation_below_a_checkpoint_is_detected(self, maker, in_env, tmp_path) -> None:
        in_env.setenv("LINEAGE_AUDIT_KEY", KEY)
        anchors = tmp_path / "anchors.jsonl"
        cli_entries(3)
        first = cli("audit", "anchor", "--to", str(anchors))
        assert first.exit_code == 0, first.output
        assert "anchored entry 3" in first.output
        cli_entries(4)
        assert cli("audit", "anchor", "--to", str(anchors)).exit_code == 0
        lines = [json.loads(line) for line in anchors.read_text().splitlines()]
        assert [line["lastId"] for line in lines] == [3, 7]
        assert set(lines[0]) == {"lastId", "lastHash", "at", "signature"}
        held = cli("audit", "verify", "--anchors", str(anchors))
        assert (held.exit_code, held.output.strip()) == (
            0,
            "audit chain intact, 2 checkpoint(s) hold",
        )

        truncate_after(maker, 5)  # the chain still links up, and the head agrees with it
        assert cli("audit", "verify").exit_code == 0
        result = cli("audit", "verify", "--anchors", str(anchors))
        assert result.exit_code == 1, result.output
        assert "entry 7" in result.output
        assert "truncated" in result.output

    def test_a_rewritten_anchored_entry_is_detected_even_when_rehashed(
        self, maker, in_env, tmp_path
    ) -> None:
        anchors = tmp_path / "anchors.jsonl"  # local profile, no key: anyone can re-hash
        cli_entries(4)
        assert cli("audit", "anchor", "--to", str(anchors)).exit_code == 0
        with session_scope(maker) as s:
            s.execute(update(AuditLog).where(AuditLog.id == 2).values(principal="mallory"))
        rehash_from(maker, 2, sha256)
        assert cli("audit", "verify").exit_code == 0  # the chain alone cannot tell
        result = cli("audit", "verify", "--anchors", str(anchors))
        assert result.exit_code == 1, result.output
        assert "entry 4" in result.output
        assert "checkpoint" in result.output

    def test_checkpoint_file_faults_have_their_exit_codes(self, in_env, tmp_path) -> None:
        in_env.setenv("LINEAGE_AUDIT_KEY", KEY)
        anchors = tmp_path / "anchors.jsonl"
        cli_entries(2)
        assert cli("audit", "anchor", "--to", str(anchors)).exit_code == 0
        line = json.loads(anchors.read_text())
        forged = tmp_path / "forged.jsonl"
        forged.write_text(json.dumps({**line, "lastId": 1}) + "\n")
        edited = cli("audit", "verify", "--anchors", str(forged))
        assert edited.exit_code == 1
        assert "signature does not verify" in edited.output
        garbage = tmp_path / "garbage.jsonl"
        garbage.write_text("not json\n")
        for path in (garbage, tmp_path / "missing.jsonl"):
            result = cli("audit", "verify", "--anchors", str(path))
            assert result.exit_code == 2, result.output
            assert "Traceback" not in result.output
            assert len(result.output.splitlines()) == 1
        unwritable = cli("audit", "anchor", "--to", str(tmp_path / "no" / "such" / "dir.jsonl"))
        assert unwritable.exit_code == 2

    def test_anchor_to_a_url_posts_a_signed_checkpoint(self, in_env) -> None:
        in_env.setenv("LINEAGE_AUDIT_KEY", KEY)
        cli_entries(2)
        with receiver() as received:
            result = cli("audit", "anchor", "--to", received.url)
        assert result.exit_code == 0, result.output
        (posted,) = received.bodies
        assert posted["lastId"] == 2
        signed = ["checkpoint", posted["lastId"], posted["lastHash"], posted["at"]]
        assert posted["signature"] == hmac_with(KEY)(signed)
        down = cli("audit", "anchor", "--to", "http://127.0.0.1:1/anchors")
        assert down.exit_code == 3
        assert "Traceback" not in down.output

    def test_a_broken_chain_is_not_anchored(self, maker, in_env, tmp_path) -> None:
        cli_entries(3)
        with session_scope(maker) as s:
            s.execute(update(AuditLog).where(AuditLog.id == 2).values(allowed=False))
        anchors = tmp_path / "anchors.jsonl"
        result = cli("audit", "anchor", "--to", str(anchors))
        assert result.exit_code == 1
        assert "entry 2" in result.output
        assert not anchors.exists()


class _Receiver:
    def __init__(self) -> None:
        self.url = ""
        self.bodies: list[dict[str, Any]] = []


@contextmanager
def receiver() -> Iterator[_Receiver]:
    """An HTTP server on a free port that keeps the JSON bodies POSTed to it."""
    state = _Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            state.bodies.append(json.loads(self.rfile.read(length)))
            self.send_response(201)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}/anchors"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def test_the_database_down_is_exit_3_in_one_line(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("LINEAGE_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    for args in (("audit", "verify"), ("audit", "anchor", "--to", str(tmp_path / "a.jsonl"))):
        result = cli(*args)
        assert result.exit_code == 3, result.output
        assert len(result.output.strip().splitlines()) == 1
        assert "Traceback" not in result.output


def test_production_profiles_refuse_a_missing_or_short_audit_key(monkeypatch) -> None:
    token = "b" * 32
    pg = "postgresql+psycopg://postgres@127.0.0.1:5432/lineage"
    for key in ("", "short"):
        with pytest.raises(ValidationError, match="LINEAGE_AUDIT_KEY"):
            LineageSettings(
                profile="production",
                database_url=pg,
                bootstrap_admin_token=token,
                audit_key=key,  # type: ignore[arg-type]
            )
    ok = LineageSettings(
        profile="production",
        database_url=pg,
        bootstrap_admin_token=token,
        audit_key=KEY,  # type: ignore[arg-type]
    )
    assert ok.audit_key_bytes == KEY.encode()
    assert KEY not in repr(ok)  # a secret: never in a log line

    for name in list(os.environ):
        if name.startswith(("SKEWLESS_", "LINEAGE_")):
            monkeypatch.delenv(name)
    with pytest.raises(ValidationError, match="LINEAGE_AUDIT_KEY"):
        Settings(profile="production", serve_token="s" * 32, lineage_database_url=pg)
    monkeypatch.setenv("LINEAGE_AUDIT_KEY", KEY)
    data_plane = Settings(profile="production", serve_token="s" * 32, lineage_database_url=pg)
    assert data_plane.lineage_audit_key.get_secret_value() == KEY

    monkeypatch.delenv("LINEAGE_AUDIT_KEY")
    monkeypatch.setenv("LINEAGE_PROFILE", "production")
    monkeypatch.setenv("LINEAGE_DATABASE_URL", pg)
    monkeypatch.setenv("LINEAGE_BOOTSTRAP_ADMIN_TOKEN", token)
    refused = cli("audit", "verify")
    assert refused.exit_code == 2
    assert "LINEAGE_AUDIT_KEY" in refused.output
    assert "Traceback" not in refused.output
