"""Every read is audited even when the audit writer or the whole server is killed.

Entries are in the write-ahead log before a read is answered: a writer killed with SIGKILL is
restarted and resumes, and the log of a server killed with SIGKILL is drained by the next
server. The audit log is read back from the lineage database and its chain verified.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy.exc import OperationalError

from lineage.audit import list_audit
from lineage.audit_verify import verify_chain
from lineage.db.session import make_engine, make_sessionmaker, session_scope
from services.settings import Settings
from tests.integration.serving.conftest import ServerThread, free_port, load_project
from tests.waiting import wait_for

BODY = {"features": ["merchant_risk:fraud_rate_30d"], "entities": {"merchant_id": [1, 2]}}
OBJ = "feature_view/merchant_risk"


def _children(parent: int, marker: str) -> list[int]:
    """Live child processes of ``parent`` whose command line holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == parent and fields[0] != "Z" and marker in cmdline:
            found.append(int(entry.name))
    return found


def _writer_of(pid: int) -> int:
    (child,) = wait_for(lambda: _children(pid, "services.serving.audit_sink"), "the audit writer")
    return child


def _audited_reads(settings: Settings) -> list[str]:
    """Time stamps of the audited reads of ``OBJ`` (one per read), oldest first."""
    engine = make_engine(settings.effective_lineage_database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            entries = list_audit(session, obj=OBJ, limit=10_000)
    except OperationalError:  # no audit table yet: nothing was ever committed
        return []
    finally:
        engine.dispose()
    return sorted(e.ts.isoformat() for e in entries if e.action == "read")


def _chain_intact(settings: Settings) -> bool:
    engine = make_engine(settings.effective_lineage_database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            return verify_chain(session, key=None) is None
    finally:
        engine.dispose()


def _read(client: httpx.Client, times: int) -> None:
    for _ in range(times):
        assert client.post("/get-online-features", json=BODY).status_code == 200


def test_a_killed_writer_loses_no_entry(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings("sqlite")
    load_project(settings, tmp_path)
    with ServerThread(settings) as srv, httpx.Client(base_url=srv.url, timeout=30) as client:
        _read(client, 20)
        first = _writer_of(os.getpid())
        os.kill(first, signal.SIGKILL)  # before its first commit (every 2 s)
        _read(client, 20)
        second = _writer_of(os.getpid())  # restarted by the server's watcher
        assert second != first
    stamps = _audited_reads(settings)
    assert len(set(stamps)) == 40  # every read, each once at least
    assert not list((settings.data_dir / "audit-wal").iterdir())  # drained and removed
    assert _chain_intact(settings)


def test_the_log_of_a_killed_server_is_drained_by_the_next_one(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    # A writer that never commits on its own: what reaches the database came from a drain.
    settings = make_settings("sqlite", serve_audit_commit_s=3600)
    load_project(settings, tmp_path)
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            if server.poll() is not None:
                raise RuntimeError((tmp_path / "serve.log").read_text())
            try:
                return httpx.get(f"{url}/health").status_code == 200
            except httpx.TransportError:
                return False

        wait_for(ready, "skewless serve to answer /health")
        with httpx.Client(base_url=url, timeout=30) as client:
            _read(client, 30)
        writer = _writer_of(server.pid)
        os.kill(server.pid, signal.SIGSTOP)  # frozen: it cannot restart its writer
        os.kill(writer, signal.SIGKILL)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=30)
        log.close()
    assert _audited_reads(settings) == []  # nothing was committed
    (orphan,) = (settings.data_dir / "audit-wal").iterdir()

    # The next server on the same data dir, committing as usual, drains the orphan.
    with ServerThread(settings.model_copy(update={"serve_audit_commit_s": 2.0})):
        wait_for(lambda: len(set(_audited_reads(settings))) == 30, "the orphan log's 30 reads")
    assert not orphan.exists()
    assert len(set(_audited_reads(settings))) == 30
    assert _chain_intact(settings)


def test_two_workers_each_keep_their_own_log_and_every_read_is_audited(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings("sqlite")
    load_project(settings, tmp_path)
    port = free_port()
    with (tmp_path / "serve.log").open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", "--port", str(port), "--workers", "2"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wal = settings.data_dir / "audit-wal"

        def ready() -> bool:
            if server.poll() is not None:
                raise RuntimeError((tmp_path / "serve.log").read_text())
            try:
                up = httpx.get(f"{url}/health").status_code == 200
            except httpx.TransportError:
                return False
            return up and wal.exists() and len(list(wal.iterdir())) == 2

        wait_for(ready, "two workers, each with its audit log")
        with httpx.Client(base_url=url, timeout=30) as client:
            _read(client, 50)
    finally:
        server.terminate()  # a graceful stop: each worker's writer commits and exits
        server.wait(timeout=60)
    assert len(set(_audited_reads(settings))) == 50
    assert not list(wal.iterdir())
    assert _chain_intact(settings)
