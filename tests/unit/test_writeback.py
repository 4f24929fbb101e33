"""``Writeback``: a version file synced in the background keeps every byte, and loses no error."""

from __future__ import annotations

import os
import time
from contextlib import closing
from pathlib import Path

import pytest

from services.offline.writeback import Writeback


def test_what_was_written_is_in_the_file_after_sync(tmp_path: Path) -> None:
    path = tmp_path / "version.bin"
    chunks = [os.urandom(1 << 20) for _ in range(8)]
    with path.open("wb") as handle, closing(Writeback(handle)) as writeback:
        for chunk in chunks:
            handle.write(chunk)
            writeback.start()  # the previous write may still run: then this one is skipped
        handle.write(b"footer")  # not flushed by anyone but sync
        writeback.sync()
        assert path.read_bytes() == b"".join(chunks) + b"footer"


def test_a_background_sync_error_is_raised_not_lost() -> None:
    # A pipe cannot be synced (EINVAL), a real error of the kernel's, as a full or failing disk
    # would give: the background fdatasync fails, and sync must raise it.
    read_end, write_end = os.pipe()
    try:
        with os.fdopen(write_end, "wb") as handle, closing(Writeback(handle)) as writeback:
            handle.write(b"x")
            writeback.start()
            with pytest.raises(OSError, match="Invalid argument"):
                writeback.sync()
    finally:
        os.close(read_end)


def test_a_failed_background_sync_is_raised_by_the_next_start() -> None:
    read_end, write_end = os.pipe()
    try:
        with os.fdopen(write_end, "wb") as handle, closing(Writeback(handle)) as writeback:
            writeback.start()
            with pytest.raises(OSError, match="Invalid argument"):
                _start_until_the_first_has_run(writeback)
    finally:
        os.close(read_end)


def _start_until_the_first_has_run(writeback: Writeback) -> None:
    for _ in range(10_000):  # a start while the first background sync still runs is skipped
        writeback.start()
        time.sleep(0.001)
