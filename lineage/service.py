"""The lineage domain: intake of OpenLineage events, model registry, and queries.

Intake stores the raw event first (idempotent by content hash), then derives the graph in the same
transaction: datasets, dataset versions, jobs, runs (order-tolerant state), run -> version edges
and column lineage (``lineage.derive``, set-based per batch). A duplicate event is a no-op.
Graph queries live in ``lineage.queries`` and the model registry in ``lineage.registry``; both are
re-exported here so callers have one entry point.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from lineage.audit import PendingEntry, chain_entries, head_rows
from lineage.batch_rows import batch_keys
from lineage.db import intake_batch, intake_sql
from lineage.db import repositories as repo
from lineage.db.bulk import RawJSON, Rows
from lineage.db.models import (
    AuditHead,
    AuditLog,
    Base,
    LineageEvent,
)
from lineage.derive import derive
from lineage.events import ParsedEvent, validate_event
from lineage.queries import impact, lineage_graph, provenance
from lineage.registry import RegisteredModel, register_deployment, register_model
from lineage.rules import canonical_json
from lineage.usage import history, reads, usage

__all__ = [
    "Incoming",
    "IngestResult",
    "IntakeBatch",
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
    """A validated event waiting to be stored: its canonical JSON, content hash and sender."""

    canonical: str
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
        canonical = canonical_json(event)
        digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        return cls(canonical, parsed, digest, received_by)


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


def ingest_events(
    session: Session,
    items: Sequence[Incoming],
    audit: Sequence[PendingEntry] = (),
    *,
    key: bytes | None = None,
) -> list[IngestResult]:
    """Store a batch of validated events and derive their graph, in arrival order.

    Args:
        session: An open session; the caller commits.
        items: Validated events (``Incoming.of``).
        audit: Audit entries of the requests that carried them (HTTP intake).
        key: The audit chain's key (``LINEAGE_AUDIT_KEY``) that chains ``audit``; None for
            plain SHA-256 (the local profile without a key), or when there is no ``audit``.

    Returns:
        One result per item, in order.

    """
    if not items and not audit:
        return []
    return IntakeBatch.open(session, items, audit=bool(audit)).store(items, audit, key=key)


class IntakeBatch:
    """One intake transaction: what a batch touches is read at once, then written at once.

    ``open`` serializes intake writers for the transaction and reads every stored row the
    candidate events touch, and the callers behind the given tokens, in one round trip. The HTTP
    writer decides with those callers which events are accepted; ``store`` then stores those as
    their canonical JSON (a hash already stored, or repeated earlier in the batch, is a
    duplicate and a no-op), derives their graph and chains the audit entries of the batch's
    requests onto the audit log, all written together.
    """

    def __init__(self, session: Session, reads: intake_batch.BatchReads) -> None:
        self._session = session
        self._reads = reads

    @classmethod
    def open(
        cls,
        session: Session,
        candidates: Sequence[Incoming],
        *,
        token_hashes: Collection[str] = (),
        audit: bool = False,
    ) -> IntakeBatch:
        """Lock intake and read what ``candidates`` touch (and, with ``audit``, the chain head)."""
        keys = batch_keys(
            [item.parsed for item in candidates],
            {item.digest for item in candidates},
            audit_head=audit,
            tokens=token_hashes,
        )
        return cls(session, intake_sql.lock_and_read(session, keys))

    @property
    def callers(self) -> dict[str, tuple[str, str, set[str]]]:
        """The live callers of the tokens given to ``open`` (``access.principals_of``)."""
        return self._reads.callers

    def store(
        self,
        items: Sequence[Incoming],
        audit: Sequence[PendingEntry] = (),
        *,
        key: bytes | None,
    ) -> list[IngestResult]:
        """Store ``items`` (candidates given to ``open``) and ``audit``; one result per item.

        ``audit`` is chained with ``key`` (``LINEAGE_AUDIT_KEY``; None: plain SHA-256).
        """
        seen = self._reads.hashes
        now = datetime.now(UTC)
        results, fresh = [], []
        for item in items:
            duplicate = item.digest in seen
            seen.add(item.digest)
            if not duplicate:
                fresh.append(item)
            results.append(
                IngestResult(item.digest, duplicate, item.parsed.kind, item.parsed.run_id)
            )
        rows = [
            {
                "event_hash": item.digest,
                "event_kind": item.parsed.kind,
                "event_type": item.parsed.event_type,
                "event_time": item.parsed.event_time,
                "run_id": item.parsed.run_id,
                "payload": RawJSON(item.canonical),
                "received_at": now,
                "received_by": item.received_by,
            }
            for item in fresh
        ]
        inserts: list[tuple[type[Base], Rows]] = [(LineageEvent, rows)]
        updates: list[tuple[type[Base], Rows]] = []
        if audit:
            if self._reads.audit_head is None:
                raise RuntimeError("audit entries need open(audit=True), which locks the head")
            entries, stored = chain_entries(audit, self._reads.audit_head, key=key)
            inserts.append((AuditLog, entries))
            updates.append((AuditHead, head_rows(stored)))
        parsed = [item.parsed for item in fresh]
        derive(self._session, parsed, self._reads, now, inserts, updates)
        if self._session.identity_map:
            self._session.expire_all()  # ORM objects the caller holds were changed in bulk
        return results


def summary(session: Session) -> dict[str, Any]:
    """Count datasets, dataset versions, jobs, runs by state, models, versions and events."""
    return repo.count_summary(session)
