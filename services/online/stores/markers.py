"""Per-view marker tokens: one hash per project in either Redis store (``keys.marker_key``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.errors import OnlineStoreUnavailableError
from services.online.client import UNAVAILABLE
from services.online.keys import marker_key


def read_markers(client: Callable[[], Any], project: str) -> dict[str, str]:
    """The project's markers; ``client()`` (one Redis or a cluster) is asked inside the guard."""
    try:
        raw = client().hgetall(marker_key(project))
    except UNAVAILABLE as exc:
        raise OnlineStoreUnavailableError(str(exc)) from exc
    return {k.decode(): v.decode() for k, v in raw.items()}


def write_markers(client: Callable[[], Any], project: str, tokens: dict[str, str]) -> None:
    """Set the given views' markers for the project (nothing to do for none)."""
    if not tokens:
        return
    mapping: dict[str | bytes, str | bytes | float | int] = {}
    mapping.update(tokens.items())
    try:
        client().hset(marker_key(project), mapping=mapping)
    except UNAVAILABLE as exc:
        raise OnlineStoreUnavailableError(str(exc)) from exc
