"""The read audit's durable queue (a write-ahead log) and the child process that drains it.

Every audit entry the feature server makes is appended to a write-ahead log before the request
is answered: one JSON line, written with a single ``os.write`` to a segment file under
``<data dir>/audit-wal/<instance>/`` (see :mod:`services.serving.audit_wal`). From then on the
kernel holds it, so neither a crash of the server nor of its writer loses it.

The writer is a child process, ``python -m services.serving.audit_sink`` (the database URL and
the audit chain's key, ``LINEAGE_AUDIT_KEY``, in its environment, not its command line, so no
secret shows in ``ps``). Appending to the hash-chained audit log is ORM work that would stall
requests if done in the server, so the child tails the log, records the entries in a
:class:`lineage.access.ReadAuditor`, commits every ``SKEWLESS_SERVE_AUDIT_COMMIT_S`` (2 s) and
after each commit checkpoints how far it got. A writer that died is restarted by the server
and resumes from its checkpoint; the log of a server that died is drained by the next server's
writer. A writer killed between a commit and its checkpoint writes that batch again: entries
are at least once, never lost. The child's stdin is only its lifeline: when the server closes
it, the child drains, commits and exits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from services.serving.audit_wal import AuditWal, Entry, WalReader

POLL_S = 0.1
MAX_BUFFERED = 200_000  # entries read but not committed (the database is down): stop reading

_URL_VARIABLE = "SKEWLESS_AUDIT_DATABASE_URL"
_KEY_VARIABLE = "LINEAGE_AUDIT_KEY"
_WAL_VARIABLE = "SKEWLESS_AUDIT_WAL"
_COMMIT_VARIABLE = "SKEWLESS_AUDIT_COMMIT_S"
_log = logging.getLogger("skewless.serving.audit")

__all__ = ["AuditSink", "Entry"]


class AuditSink:
    """The server's handle: the write-ahead log it appends to and the writer process.

    ``key`` is the audit chain's key (``Settings.lineage_audit_key``); None leaves the child the
    ``LINEAGE_AUDIT_KEY`` of this process's environment.
    """

    def __init__(
        self, database_url: str, wal_root: Path, key: str | None = None, commit_s: float = 2.0
    ) -> None:
        self._database_url = database_url
        self._key = key
        self._commit_s = commit_s
        self._wal = AuditWal.open(wal_root)
        self._start()

    def _start(self) -> None:
        env = {
            **os.environ,
            _URL_VARIABLE: self._database_url,
            _WAL_VARIABLE: str(self._wal.directory),
            _COMMIT_VARIABLE: str(self._commit_s),
        }
        if self._key is not None:
            env[_KEY_VARIABLE] = self._key
        self._process = subprocess.Popen(
            [sys.executable, "-m", "services.serving.audit_sink"], stdin=subprocess.PIPE, env=env
        )
        if self._process.stdin is None:  # stdin=PIPE always gives one
            raise RuntimeError("the audit sink process has no stdin")
        self._stdin: IO[bytes] = self._process.stdin

    def append(self, entry: Entry) -> None:
        """Queue one entry durably (it is in the log when this returns)."""
        self._wal.append(entry)

    def ensure_running(self) -> None:
        """Restart the writer if it died; it resumes from its checkpoint."""
        code = self._process.poll()
        if code is not None:
            _log.error("audit sink died (exit code %s); restarting it", code)
            with contextlib.suppress(OSError):
                self._stdin.close()
            self._start()

    def close(self, timeout: float = 30) -> None:
        """Stop the writer after it has committed everything in the log."""
        self.ensure_running()
        with contextlib.suppress(OSError):  # a dead sink's pipe is already broken
            self._stdin.close()
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            _log.error("audit sink did not stop in %.0f s; terminating it", timeout)
            self._process.terminate()
            self._process.wait(10)
        self._wal.close()


def _stdin_closed(timeout: float) -> bool:
    """Wait up to ``timeout`` for the server to close our stdin; whether it did."""
    ready, _, _ = select.select([sys.stdin.buffer], [], [], timeout)
    return bool(ready) and not os.read(sys.stdin.buffer.fileno(), 4096)


def _serve(database_url: str, key: bytes | None, own: Path, commit_s: float) -> None:
    """The child: tail the logs, commit every ``commit_s``, checkpoint after each commit."""
    from lineage.access import ReadAuditor

    auditor = ReadAuditor(database_url, key=key)
    auditor.prepare()
    reader = WalReader(own)
    flushed = time.monotonic()

    def read() -> None:
        if auditor.pending >= MAX_BUFFERED:
            return  # the database is behind: the log keeps the rest
        for principal, action, obj, allowed, source, at in reader.read_new():
            auditor.record(principal, action, obj, allowed, source, ts=at)

    def commit(closing: bool = False) -> None:
        if auditor.pending:
            auditor.flush()  # on failure the entries stay buffered, and the log keeps them
        if auditor.pending == 0:
            reader.checkpoint(closing=closing)

    try:
        while True:
            closing = _stdin_closed(POLL_S)
            read()
            if closing or time.monotonic() - flushed >= commit_s:
                commit()
                flushed = time.monotonic()
            if closing:
                read()  # anything the server appended while it closed
                commit(closing=True)
                return
    finally:
        reader.close()
        auditor.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    _key = os.environ.get(_KEY_VARIABLE, "")  # the chain's key: UTF-8 bytes, none when empty
    _serve(
        os.environ[_URL_VARIABLE],
        _key.encode("utf-8") if _key else None,
        Path(os.environ[_WAL_VARIABLE]),
        float(os.environ[_COMMIT_VARIABLE]),
    )
