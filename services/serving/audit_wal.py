"""The read audit's write-ahead log: JSON-line segment files, one directory per server process.

Layout of ``<root>/<instance>/``:

- ``owner.lock``: flocked by the server for its lifetime. A directory whose owner lock anyone
  can take belongs to a server that is gone (an orphan), and the next writer drains it.
- ``drain.lock``: flocked by the one writer process draining the server's own directory, so a
  restarted writer never runs beside a stale one.
- ``<12 digits>.jsonl``: segments, one entry per line, each written by a single ``os.write``
  under a lock. The server starts a new segment past ``SEGMENT_BYTES``; once a newer segment
  exists the older one is complete.
- ``checkpoint.json``: ``{"segment": name, "offset": n}``, everything before which is committed
  to the audit log. Segments before it are deleted; a fully drained directory is removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

# principal, action, object, allowed, source address, time of the read (ISO 8601, UTC)
Entry = tuple[str, str, str, bool, str | None, str]
Read = tuple[str, str, str, bool, str | None, datetime]

SEGMENT_BYTES = 8 << 20
CLAIM_EVERY_S = 1.0
_SUFFIX = ".jsonl"


def _segment_name(number: int) -> str:
    return f"{number:012d}{_SUFFIX}"


def _segments(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob(f"*{_SUFFIX}"))


def _try_lock(path: Path) -> int | None:
    """An exclusive flock on ``path`` (created if missing): its fd, or None when held."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


class AuditWal:
    """The server's side: appends entries to its own directory's current segment."""

    def __init__(self, directory: Path, owner_fd: int) -> None:
        self.directory = directory
        self._owner_fd = owner_fd
        self._lock = threading.Lock()
        self._number = 0
        self._fd = self._open_segment()
        self._size = 0

    @classmethod
    def open(cls, root: Path) -> AuditWal:
        """A new log directory under ``root`` for this process, its owner lock held."""
        instance = f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}"
        # Made under a hidden name and renamed once locked: a writer looking for orphans
        # skips hidden names, so it never mistakes a directory being born for a dead one.
        hidden = root / f".{instance}"
        hidden.mkdir(parents=True)
        fd = _try_lock(hidden / "owner.lock")
        if fd is None:  # a fresh directory: nobody else can hold it
            raise RuntimeError(f"audit log {hidden} is locked by another process")
        (hidden / _segment_name(0)).touch()
        directory = root / instance
        hidden.rename(directory)
        return cls(directory, fd)

    def _open_segment(self) -> int:
        path = self.directory / _segment_name(self._number)
        return os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)

    def append(self, entry: Entry) -> None:
        """Write one entry; when this returns the kernel holds it.

        Raises:
            OSError: The entry could not be written (disk full, directory removed ...).

        """
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
        with self._lock:
            view = memoryview(line)
            while view:
                view = view[os.write(self._fd, view) :]
            self._size += len(line)
            if self._size >= SEGMENT_BYTES:
                old, self._number = self._fd, self._number + 1
                self._fd, self._size = self._open_segment(), 0
                os.close(old)

    def close(self) -> None:
        """Stop appending; remove the directory if its writer drained everything."""
        with self._lock:
            os.close(self._fd)
        if not _segments(self.directory):
            for name in ("checkpoint.json", "drain.lock", "owner.lock"):
                with contextlib.suppress(FileNotFoundError):
                    (self.directory / name).unlink()
            with contextlib.suppress(OSError):
                self.directory.rmdir()
        os.close(self._owner_fd)


class _Drain:
    """One directory being drained: where reading stands and where the commit stands."""

    def __init__(self, directory: Path, lock_fd: int, orphan: bool) -> None:
        self.directory = directory
        self.orphan = orphan
        self._lock_fd = lock_fd
        saved = directory / "checkpoint.json"
        state = json.loads(saved.read_text()) if saved.exists() else {}
        segments = _segments(directory)
        self.segment: str | None = state.get("segment") or (segments[0] if segments else None)
        self.offset: int = state.get("offset", 0)

    def read_new(self) -> Iterator[Read]:
        """Every complete line past the read position, moving on to newer segments."""
        if self.segment is None:
            first = _segments(self.directory)[:1]
            self.segment = first[0] if first else None
        while self.segment is not None:
            newer = [s for s in _segments(self.directory) if s > self.segment]
            yield from self._read_segment()  # after listing: a newer one means this is whole
            if not newer:
                return
            self.segment, self.offset = newer[0], 0

    def _read_segment(self) -> Iterator[Read]:
        if self.segment is None:
            return
        try:
            with (self.directory / self.segment).open("rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return
        end = data.rfind(b"\n") + 1
        for line in data[:end].splitlines():
            principal, action, obj, allowed, source, at = json.loads(line)
            yield principal, action, obj, allowed, source, datetime.fromisoformat(at)
        self.offset += end

    def checkpoint(self, final: bool) -> bool:
        """Record the read position as committed; drop what it covers. Whether it is all gone.

        ``final``: no more will be appended (an orphan, or the own directory at shutdown).
        """
        if self.segment is None:
            if final:
                self._remove()
            return final
        temp = self.directory / "checkpoint.json.tmp"
        temp.write_text(json.dumps({"segment": self.segment, "offset": self.offset}))
        os.replace(temp, self.directory / "checkpoint.json")
        for name in _segments(self.directory):
            if name < self.segment:
                (self.directory / name).unlink()
        current = self.directory / self.segment
        if final and (not current.exists() or current.stat().st_size == self.offset):
            with contextlib.suppress(FileNotFoundError):
                current.unlink()
            self._remove()
            return True
        return False

    def _remove(self) -> None:
        if self.orphan:  # the own directory is removed by its server (AuditWal.close)
            for name in ("checkpoint.json", "drain.lock", "owner.lock"):
                with contextlib.suppress(FileNotFoundError):
                    (self.directory / name).unlink()
            with contextlib.suppress(OSError):
                self.directory.rmdir()
        else:
            with contextlib.suppress(FileNotFoundError):
                (self.directory / "checkpoint.json").unlink()

    def release(self) -> None:
        os.close(self._lock_fd)


class WalReader:
    """The writer process's side: drains its server's directory and any orphan beside it."""

    def __init__(self, own: Path) -> None:
        self._own = own
        self._drains: dict[Path, _Drain] = {}
        self._claimed_at = 0.0
        fd = _try_lock(own / "drain.lock")
        if fd is None:
            raise RuntimeError(f"another writer is draining {own}")
        self._drains[own] = _Drain(own, fd, orphan=False)

    def _claim_orphans(self) -> None:
        """Take over directories whose server is gone (their owner lock is free)."""
        if time.monotonic() - self._claimed_at < CLAIM_EVERY_S:
            return
        self._claimed_at = time.monotonic()
        for directory in sorted(self._own.parent.iterdir()):
            hidden = directory.name.startswith(".")
            if hidden or directory in self._drains or not directory.is_dir():
                continue
            fd = _try_lock(directory / "owner.lock")
            if fd is not None:
                self._drains[directory] = _Drain(directory, fd, orphan=True)

    def read_new(self) -> Iterator[Read]:
        """Every entry appended since the last call, in each directory's order."""
        self._claim_orphans()
        for drain in list(self._drains.values()):
            yield from drain.read_new()

    def checkpoint(self, *, closing: bool = False) -> None:
        """Everything read so far is committed: record it, and drop drained orphans."""
        for directory, drain in list(self._drains.items()):
            if drain.checkpoint(final=drain.orphan or closing) and drain.orphan:
                drain.release()
                del self._drains[directory]

    def close(self) -> None:
        for drain in self._drains.values():
            drain.release()
        self._drains.clear()
