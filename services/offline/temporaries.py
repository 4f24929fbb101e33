"""Temporary files written beside their final name, then renamed: safe on a shared volume.

Replicas on several machines may share the data dir (the offline store, served logs, quarantine,
training sets). A temporary is named ``.<final>.tmp-<host>-<pid>``, so writers on different
machines never collide, and stale temporaries (their writer died before its rename) are reclaimed
only by a process on the writer's own machine, the only place its pid can be checked. The
``.tmp-<pid>`` names of earlier releases are treated as this machine's.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

_HOST = socket.gethostname().replace("/", "_") or "localhost"


def temporary_for(final: Path) -> Path:
    """The hidden temporary name under which ``final`` is written before its rename."""
    return final.with_name(f".{final.name}.tmp-{_HOST}-{os.getpid()}")


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete this machine's temporaries whose writer died (kill -9) before its rename.

    A temporary is never visible as a version; this only reclaims the space. A file whose
    writer still runs, or that another machine wrote, is left alone.
    """
    removed = []
    for path in folder.glob(".*.tmp-*"):
        owner = path.name.rsplit(".tmp-", 1)[1]
        host, _, pid = owner.rpartition("-")
        if host not in ("", _HOST) or not pid.isdigit():
            continue
        if not _process_alive(int(pid)):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True
