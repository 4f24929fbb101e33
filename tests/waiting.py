"""Polling with a deadline: how tests wait for a process, a server or a state, never by sleeping.

A wait that runs out raises with what was awaited; the deadline is generous because it is a
bound on a hang, not a timing assertion (the brief: never a wall-clock limit in a test).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

DEADLINE_S = 120.0


def wait_for(
    check: Callable[[], T | None],
    what: str,
    *,
    deadline_s: float = DEADLINE_S,
    every_s: float = 0.02,
) -> T:
    """Call ``check`` until it returns something truthy (not None, False, 0 or empty); return it.

    Raises:
        TimeoutError: ``check`` did not succeed within ``deadline_s`` (names ``what``).
    """
    end = time.monotonic() + deadline_s
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > end:
            raise TimeoutError(f"gave up waiting for {what} after {deadline_s:.0f} s")
        time.sleep(every_s)
