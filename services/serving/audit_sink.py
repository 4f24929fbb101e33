"""The read audit's writer: a child process that appends the server's audit entries.

Appending to the lineage plane's hash-chained audit log is ORM work (an object and a hash
per entry). Done in a thread of the feature server it held the GIL for tens of milliseconds
per flush and stalled every request behind it, so the server only buffers entries and ships
them here as JSON lines on the child's stdin (one write every ``FORWARD_S``); this process
records them in a :class:`lineage.access.ReadAuditor`, flushes it every ``FLUSH_S``, and
flushes once more and exits when its stdin closes.

The child is ``python -m services.serving.audit_sink`` (the database URL and the audit chain's
key, ``LINEAGE_AUDIT_KEY``, in its environment, not its command line, so no secret shows in
``ps``): it imports the lineage package only,
not the server's modules. Each entry carries the time of the read, stamped by the server. A
sink that died is restarted and sent the failed batch again; what a crashed sink had received
but not flushed is lost (a clean stop writes everything).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
from datetime import datetime
from typing import IO

FORWARD_S = 0.1
FLUSH_S = 2.0
# principal, action, object, allowed, source address, time of the read (ISO 8601, UTC)
Entry = tuple[str, str, str, bool, str | None, str]

_URL_VARIABLE = "SKEWLESS_AUDIT_DATABASE_URL"
_KEY_VARIABLE = "LINEAGE_AUDIT_KEY"
_log = logging.getLogger("skewless.serving.audit")


class AuditSink:
    """The server's handle on the writer process.

    ``key`` is the audit chain's key (``Settings.lineage_audit_key``); None leaves the child the
    ``LINEAGE_AUDIT_KEY`` of this process's environment.
    """

    def __init__(self, database_url: str, key: str | None = None) -> None:
        self._database_url = database_url
        self._key = key
        self._start()

    def _start(self) -> None:
        env = {**os.environ, _URL_VARIABLE: self._database_url}
        if self._key is not None:
            env[_KEY_VARIABLE] = self._key
        self._process = subprocess.Popen(
            [sys.executable, "-m", "services.serving.audit_sink"],
            stdin=subprocess.PIPE,
            env=env,
        )
        if self._process.stdin is None:  # stdin=PIPE always gives one
            raise RuntimeError("the audit sink process has no stdin")
        self._stdin: IO[bytes] = self._process.stdin

    def send(self, batch: list[Entry]) -> None:
        """Ship a batch; a dead sink is restarted once and sent the batch again."""
        line = json.dumps(batch).encode() + b"\n"
        try:
            self._stdin.write(line)
            self._stdin.flush()
        except OSError:
            _log.error("audit sink died (exit code %s); restarting it", self._process.poll())
            self._start()
            self._stdin.write(line)
            self._stdin.flush()

    def close(self, timeout: float = 30) -> None:
        """Stop the sink after it has written everything it was sent."""
        with contextlib.suppress(OSError):  # a dead sink's pipe is already broken
            self._stdin.close()
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            _log.error("audit sink did not stop in %.0f s; terminating it", timeout)
            self._process.terminate()
            self._process.wait(10)


def _serve(database_url: str, key: bytes | None) -> None:
    """The child: record each line's entries, flush every ``FLUSH_S`` and at end of input."""
    from lineage.access import ReadAuditor

    auditor = ReadAuditor(database_url, key=key)
    auditor.prepare()
    done = threading.Event()

    def flush_periodically() -> None:
        while not done.wait(FLUSH_S):
            auditor.flush()

    flusher = threading.Thread(target=flush_periodically, name="audit-flush", daemon=True)
    flusher.start()
    try:
        for line in sys.stdin.buffer:
            for principal, action, obj, allowed, source, at in json.loads(line):
                ts = datetime.fromisoformat(at)
                auditor.record(principal, action, obj, allowed, source, ts=ts)
    finally:
        done.set()
        flusher.join()
        auditor.close()  # flushes what is left


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    _key = os.environ.get(_KEY_VARIABLE, "")  # the chain's key: UTF-8 bytes, none when empty
    _serve(os.environ[_URL_VARIABLE], _key.encode("utf-8") if _key else None)
