"""Shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.lineage_events import _EMITTERS


@pytest.fixture(autouse=True)
def _fresh_emitters() -> Iterator[None]:
    """Each test gets its own lineage emitters: close and forget those a test opened."""
    yield
    for emitter in _EMITTERS.values():
        emitter.close()
    _EMITTERS.clear()
