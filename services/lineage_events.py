"""Lineage events of the data plane, built from results and sent via ``lineage.emitter``.

Placeholder until the lineage plane lands: returns None (no run id).
"""

from __future__ import annotations

from typing import Any

from services.settings import Settings


def emit_ingest(settings: Settings, result: Any, contract: Any) -> str | None:
    return None


def emit_training_set(settings: Settings, version: Any) -> str | None:
    return None


def emit_model(
    settings: Settings, name: str, version: str, training_set_version: str, metrics: Any
) -> None:
    return None


def emit_apply(settings: Settings, store: Any) -> None:
    return None


def lineage_summary(settings: Settings) -> str:
    return "lineage plane not available"
