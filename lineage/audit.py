"""The append-only, hash-chained audit log: hashing and appending entries, listing them.

Each entry's hash is HMAC-SHA256, keyed by ``LINEAGE_AUDIT_KEY`` (plain SHA-256 on the local
profile without a key), over its id, time, principal, action, object, decision, source address
and the previous entry's hash. Appends lock the chain head, so the chain is linear even with
concurrent writers; editing, deleting or reordering any entry breaks verification at that entry,
and without the key nobody who can write the database can re-hash the entries after an edit.

Verifying the chain and its signed checkpoints is ``lineage.audit_verify``'s. The key is always
passed explicitly (``key``: the key's bytes, or None for plain SHA-256).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from lineage.db import access_sql
from lineage.db.bulk import write_all
from lineage.db.models import AuditHead, AuditLog

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    """One audit entry as returned to auditors."""

    id: int
    ts: datetime
    principal: str
    action: str
    object: str
    allowed: bool
    source_address: str
    hash: str


def entry_hash(row: AuditLog, *, key: bytes | None) -> str:
    """Compute the chained hash of a stored audit row from its fields and ``prev_hash``."""
    return chain_hash(
        [
            row.id,
            row.ts.astimezone(UTC).isoformat(),
            row.principal,
            row.action,
            row.object,
            bool(row.allowed),
            row.source_address,
            row.prev_hash,
        ],
        key=key,
    )


def chain_hash(payload: list[object], *, key: bytes | None) -> str:
    """Hash an entry's fields: [id, UTC ISO time, principal, action, object, allowed, source, prev].

    HMAC-SHA256 with ``key`` (plain SHA-256 when it is None or empty) over their compact JSON, so
    the hash depends on every field, on the previous entry and on the key.
    """
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if not key:
        return hashlib.sha256(data).hexdigest()
    return hmac.new(key, data, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class PendingEntry:
    """An audit entry not yet chained: what happened, to what, when and from where."""

    ts: datetime
    principal: str
    action: str
    object: str
    allowed: bool
    source_address: str


def _clean(text: str, limit: int | None = None) -> str:
    # PostgreSQL refuses NUL in text; the stored (and hashed) value escapes it instead.
    text = text.replace("\x00", "\\x00")
    return text if limit is None else text[:limit]


def append_audit(
    session: Session,
    *,
    principal: str,
    action: str,
    obj: str,
    allowed: bool,
    source_address: str,
    key: bytes | None,
) -> AuditEntry:
    """Append one entry to the chain (the caller commits).

    Args:
        session: An open session.
        principal: Who asked (``anonymous`` when unauthenticated).
        action: What was asked, e.g. ``GET /api/v1/lineage``.
        obj: The object addressed (node id, model, namespace ...).
        allowed: The authorization decision.
        source_address: The client address.
        key: The chain's key (``LINEAGE_AUDIT_KEY``), None for plain SHA-256.

    Returns:
        The stored entry.

    """
    entry = PendingEntry(datetime.now(UTC), principal, action, obj, allowed, source_address)
    return append_audit_batch(session, [entry], key=key)[0]


def append_audit_batch(
    session: Session, entries: Sequence[PendingEntry], *, key: bytes | None
) -> list[AuditEntry]:
    """Append entries to the chain in order, locking the head once (the caller commits).

    Args:
        session: An open session.
        entries: The entries, oldest first; each keeps its own ``ts``.
        key: The chain's key (``LINEAGE_AUDIT_KEY``), None for plain SHA-256.

    Returns:
        The stored entries.

    """
    if not entries:
        return []
    rows, stored = chain_entries(entries, access_sql.lock_audit_head(session), key=key)
    write_all(session, [(AuditLog, rows)], [(AuditHead, head_rows(stored))])
    return stored


def key_mismatch(session: Session, *, key: bytes | None) -> str | None:
    """Why entries appended with ``key`` would break the chain, or None when they would not.

    An entry's hash is checked under the key of whoever checks: one process with another key
    (or none: a CLI run without ``LINEAGE_AUDIT_KEY``) appending to the chain breaks it at
    its first entry for good, indistinguishable from tampering. So an appender checks once,
    before its first append, that the chain's last entry verifies under its key.
    """
    last_id, last_hash = access_sql.lock_audit_head(session)  # held until the caller's commit
    if last_id == 0:
        return None
    row = session.get(AuditLog, last_id)
    if row is not None and entry_hash(row, key=key) == last_hash:
        return None
    return (
        f"the audit chain's last entry ({last_id}) does not verify under this process's "
        "LINEAGE_AUDIT_KEY (another key, or none, wrote it): set the key the lineage service "
        "uses; nothing was appended"
    )


def chain_entries(
    entries: Sequence[PendingEntry], head: tuple[int, str], *, key: bytes | None
) -> tuple[list[dict[str, Any]], list[AuditEntry]]:
    """Chain entries onto the (locked) head: the rows to insert, and the entries they store.

    Args:
        entries: The entries, oldest first.
        head: The chain head's (last id, last hash), locked by the caller until commit.
        key: The chain's key (``LINEAGE_AUDIT_KEY``), None for plain SHA-256.

    Returns:
        The ``audit_log`` rows and the entries as returned to auditors, in order.

    """
    last_id, last_hash = head
    rows, stored = [], []
    for item in entries:
        entry_id, principal = last_id + 1, _clean(item.principal, 200)
        action, obj = _clean(item.action, 64), _clean(item.object)
        source = _clean(item.source_address, 64)
        when = item.ts.astimezone(UTC)
        digest = chain_hash(
            [entry_id, when.isoformat(), principal, action, obj, item.allowed, source, last_hash],
            key=key,
        )
        rows.append(
            {
                "id": entry_id,
                "ts": when,
                "principal": principal,
                "action": action,
                "object": obj,
                "allowed": item.allowed,
                "source_address": source,
                "prev_hash": last_hash,
                "hash": digest,
            }
        )
        stored.append(
            AuditEntry(entry_id, when, principal, action, obj, item.allowed, source, digest)
        )
        last_id, last_hash = entry_id, digest
    return rows, stored


def head_rows(stored: Sequence[AuditEntry]) -> list[dict[str, Any]]:
    """The chain head's update after ``stored`` were appended (none if nothing was)."""
    if not stored:
        return []
    return [{"id": 1, "last_id": stored[-1].id, "last_hash": stored[-1].hash}]


def to_entry(row: AuditLog) -> AuditEntry:
    """Convert an ORM row to a plain entry."""
    return AuditEntry(
        id=row.id,
        ts=row.ts,
        principal=row.principal,
        action=row.action,
        object=row.object,
        allowed=row.allowed,
        source_address=row.source_address,
        hash=row.hash,
    )


def list_audit(
    session: Session,
    *,
    principal: str | None = None,
    obj: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AuditEntry]:
    """Return audit entries matching the filters, newest first (naive times are UTC)."""
    since = since.replace(tzinfo=UTC) if since and since.tzinfo is None else since
    until = until.replace(tzinfo=UTC) if until and until.tzinfo is None else until
    rows = access_sql.query_audit(
        session, principal=principal, obj=obj, since=since, until=until, limit=limit, offset=offset
    )
    return [to_entry(r) for r in rows]
