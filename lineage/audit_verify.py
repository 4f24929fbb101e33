"""Verifying the audit chain, and the signed checkpoints that anchor it outside the database.

Verification recomputes every entry's hash (``lineage.audit.entry_hash``) from the lowest id and
checks that each names its predecessor. A checkpoint signs the head (last id, last hash, time)
with the chain's key. Kept outside the database (``skewless lineage audit anchor``), checkpoints
make a truncated tail, a moved head or a rewritten anchored entry detectable even where the
chain itself still links up.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from lineage.audit import GENESIS_HASH, chain_hash, entry_hash
from lineage.db import access_sql
from lineage.db.models import AuditLog


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
