"""The lineage domain: intake of OpenLineage events, model registry, and queries.

Intake stores the raw event first (idempotent by content hash), then derives the graph in the same
transaction: datasets, dataset versions, jobs, runs (order-tolerant state), run -> version edges
and column lineage (``lineage.derive``, set-based per batch). A duplicate event is a no-op.
Graph queries live in ``lineage.queries`` and the model registry in ``lineage.registry``; both are
re-exported here so callers have one entry point.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from lineage.db import intake_sql
from lineage.db import repositories as repo
from lineage.db.models import LineageEvent
from lineage.derive import derive
from lineage.events import ParsedEvent, validate_event
from lineage.queries import impact, lineage_graph, provenance
from lineage.registry import RegisteredModel, register_deployment, register_model
from lineage.rules import canonical_json
from lineage.usage import history, reads, usage

__all__ = [
    "Incoming",
    "IngestResult",
    "RegisteredModel",
    "history",
    "impact",
    "ingest_event",
    "ingest_events",
    "lineage_graph",
    "provenance",
    "reads",
    "register_deployment",
    "register_model",
    "summary",
    "usage",
]


@dataclass(frozen=True)
class IngestResult:
    """Outcome of one intake: ``duplicate`` is True when the event was already stored."""

    event_hash: str
    duplicate: bool
    kind: str
    run_id: str | None


@dataclass(frozen=True)
class Incoming:
    """A validated event waiting to be stored, with its content hash and sender."""

    event: Mapping[str, Any]
    parsed: ParsedEvent
    digest: str
    received_by: str | None = None

    @classmethod
    def of(cls, event: Mapping[str, Any], received_by: str | None = None) -> Incoming:
        """Validate ``event`` and hash its canonical JSON.

        Raises:
            InvalidEvent: naming the failing field.

        """
        parsed = validate_event(dict(event))
        digest = hashlib.sha256(canonical_json(event).encode("utf-8")).hexdigest()
        return cls(event, parsed, digest, received_by)


def ingest_event(
    session: Session, event: Mapping[str, Any], *, received_by: str | None = None
) -> IngestResult:
    """Validate, store and derive one OpenLineage event; a duplicate is a no-op.

    Args:
        session: An open session; the caller commits (raw event and graph commit together).
        event: The decoded event JSON.
        received_by: Name of the principal that sent it, if known.

    Returns:
        What happened.

    Raises:
        InvalidEvent: naming the failing field; nothing is written.

    """
    return ingest_events(session, [Incoming.of(event, received_by)])[0]


def ingest_events(session: Session, items: Sequence[Incoming]) -> list[IngestResult]:
    """Store a batch of validated events and derive their graph, in arrival order.

    The raw events are appended first (a hash already stored, or repeated earlier in the batch,
    is a duplicate and a no-op), then the graph is derived from the new ones with a fixed number
    of statements (``lineage.derive``). Intake writers are serialized for the transaction.

    Args:
        session: An open session; the caller commits.
        items: Validated events (``Incoming.of``).

    Returns:
        One result per item, in order.

    """
    if not items:
        return []
    intake_sql.lock_intake(session)
    seen = intake_sql.stored_event_hashes(session, {item.digest for item in items})
    now = datetime.now(UTC)
    results, fresh = [], []
    for item in items:
        duplicate = item.digest in seen
        seen.add(item.digest)
        if not duplicate:
            fresh.append(item)
        results.append(IngestResult(item.digest, duplicate, item.parsed.kind, item.parsed.run_id))
    rows = [
        {
            "event_hash": item.digest,
            "event_kind": item.parsed.kind,
            "event_type": item.parsed.event_type,
            "event_time": item.parsed.event_time,
            "run_id": item.parsed.run_id,
            "payload": dict(item.event),
            "received_at": now,
            "received_by": item.received_by,
        }
        for item in fresh
    ]
    derive(session, [item.parsed for item in fresh], now, also=[(LineageEvent, rows)])
    if session.identity_map:
        session.expire_all()  # ORM objects the caller holds were changed by bulk statements
    return results


def summary(session: Session) -> dict[str, Any]:
    """Count datasets, dataset versions, jobs, runs by state, models, versions and events."""
    return repo.count_summary(session)
