"""The append-only, hash-chained audit log: appending entries, verifying the chain, checkpoints.

Each entry's hash is HMAC-SHA256, keyed by ``LINEAGE_AUDIT_KEY`` (plain SHA-256 on the local
profile without a key), over its id, time, principal, action, object, decision, source address
and the previous entry's hash. Appends lock the chain head, so the chain is linear even with
concurrent writers; editing, deleting or reordering any entry breaks verification at that entry,
and without the key nobody who can write the database can re-hash the entries after an edit.

A checkpoint signs the head (last id, last hash, time) with the same key. Kept outside the
database (``skewless lineage audit anchor``), checkpoints make a truncated tail, a moved head or
a rewritten anchored entry detectable even where the chain itself still links up. The key is
always passed explicitly (``key``: the key's bytes, or None for plain SHA-256).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
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


@dataclass(frozen=True)
class ChainBreak:
    """The first place verification failed: the entry's id, and why."""

    id: int
    reason: str

    def __str__(self) -> str:
        return f"audit chain broken at entry {self.id}: {self.reason}"


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that the chain's entry ``last_id`` had hash ``last_hash`` at ``at``."""

    last_id: int
    last_hash: str
    at: str  # UTC, ISO 8601, exactly as signed
    signature: str

    @classmethod
    def sign(cls, last_id: int, last_hash: str, at: datetime, *, key: bytes | None) -> Checkpoint:
        """Sign the head (``last_id``, ``last_hash``) as seen at ``at``."""
        when = at.astimezone(UTC).isoformat()
        return cls(last_id, last_hash, when, _checkpoint_digest(last_id, last_hash, when, key))

    def holds(self, *, key: bytes | None) -> bool:
        """Whether the signature is this checkpoint's under ``key``."""
        expected = _checkpoint_digest(self.last_id, self.last_hash, self.at, key)
        return hmac.compare_digest(expected, self.signature)

    def to_json(self) -> str:
        """One JSON line: ``{"lastId", "lastHash", "at", "signature"}``."""
        fields = {
            "lastId": self.last_id,
            "lastHash": self.last_hash,
            "at": self.at,
            "signature": self.signature,
        }
        return json.dumps(fields, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> Checkpoint:
        """Parse ``to_json``'s line.

        Raises:
            ValueError: naming what is missing or malformed.

        """
        data = json.loads(line)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        last_id, last_hash = data.get("lastId"), data.get("lastHash")
        at, signature = data.get("at"), data.get("signature")
        if not isinstance(last_id, int) or isinstance(last_id, bool) or last_id < 0:
            raise ValueError("lastId must be a non-negative integer")
        for name, value in (("lastHash", last_hash), ("at", at), ("signature", signature)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string")
        return cls(last_id, str(last_hash), str(at), str(signature))


def _checkpoint_digest(last_id: int, last_hash: str, at: str, key: bytes | None) -> str:
    # The leading tag keeps a checkpoint's signature from ever equalling an entry's hash.
    return chain_hash(["checkpoint", last_id, last_hash, at], key=key)


def make_checkpoint(session: Session, *, key: bytes | None) -> Checkpoint:
    """Sign the chain head as it is now (locked until the caller's transaction ends)."""
    last_id, last_hash = access_sql.lock_audit_head(session)
    return Checkpoint.sign(last_id, last_hash, datetime.now(UTC), key=key)


class _Walk:
    """Checks entries in id order: ids 1..N without gaps, links, hashes and checkpoints."""

    def __init__(self, key: bytes | None, checkpoints: Iterable[Checkpoint]) -> None:
        self.key = key
        self.last_id = 0
        self.last_hash = GENESIS_HASH
        self.anchored: dict[int, list[Checkpoint]] = {}
        for checkpoint in checkpoints:
            self.anchored.setdefault(checkpoint.last_id, []).append(checkpoint)

    def over(self, rows: Iterable[AuditLog]) -> ChainBreak | None:
        for row in rows:
            expected = self.last_id + 1
            if row.id != expected:
                return ChainBreak(
                    row.id, f"ids must run 1, 2, 3 ... without gaps; expected {expected}"
                )
            if row.prev_hash != self.last_hash:
                return ChainBreak(row.id, "its prev_hash is not the previous entry's hash")
            if entry_hash(row, key=self.key) != row.hash:
                return ChainBreak(
                    row.id, "its hash does not match its fields (edited, or another key)"
                )
            for checkpoint in self.anchored.get(row.id, ()):
                if checkpoint.last_hash != row.hash:
                    return ChainBreak(
                        row.id, f"its hash differs from the checkpoint of {checkpoint.at}"
                    )
            self.last_id, self.last_hash = row.id, row.hash
        return None

    def beyond_end(self) -> ChainBreak | None:
        """A checkpoint of an entry the log no longer holds (truncated), or of another genesis."""
        for last_id in sorted(self.anchored):
            for checkpoint in self.anchored[last_id]:
                if last_id == 0 and checkpoint.last_hash != GENESIS_HASH:
                    return ChainBreak(
                        0, "a checkpoint of the empty log has a hash other than genesis"
                    )
                if last_id > self.last_id:
                    reason = (
                        f"missing: the checkpoint of {checkpoint.at} anchors it, "
                        f"but the log ends at entry {self.last_id} (truncated)"
                    )
                    return ChainBreak(last_id, reason)
        return None


def verify_chain(
    session: Session, *, key: bytes | None, checkpoints: Sequence[Checkpoint] = ()
) -> ChainBreak | None:
    """Walk every entry in id order from the lowest id; return the first break, or None if intact.

    An entry is broken when its id is not the next of 1, 2, 3 ... (an id <= 0 included), its
    ``prev_hash`` is not the previous entry's hash, its hash does not match its fields under
    ``key``, or it differs from a checkpoint of its id. The head must name the last entry (a
    truncated tail is reported as the head's last id), and every checkpoint's entry must exist.
    Checkpoints' signatures are the caller's to check first (``Checkpoint.holds``).

    Args:
        session: An open session.
        key: The chain's key (``LINEAGE_AUDIT_KEY``), None for plain SHA-256.
        checkpoints: Checkpoints written by ``skewless lineage audit anchor``.

    Returns:
        The first break, or None.

    """
    walk = _Walk(key, checkpoints)
    broken = walk.over(access_sql.iter_audit(session))
    if broken is not None:
        return broken
    head_id, head_hash = access_sql.lock_audit_head(session)
    # Entries appended while the walk ran: with the head locked, no more can arrive.
    broken = walk.over(access_sql.iter_audit(session, after=walk.last_id))
    if broken is not None:
        return broken
    if (head_id, head_hash) != (walk.last_id, walk.last_hash):
        reason = f"the chain head names entry {head_id}, the log ends at entry {walk.last_id}"
        if head_id == walk.last_id:
            reason = "the chain head's hash is not the last entry's hash"
        return ChainBreak(head_id if head_id != walk.last_id else walk.last_id, reason)
    return walk.beyond_end()


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
