"""Group commit for HTTP intake: concurrent POSTs share one transaction, answered after commit.

A request is parsed and validated on the event loop, then handed to ``IntakeQueue``. One writer
thread takes everything queued (up to ``max_batch``), and in one transaction authenticates the
tokens (read with everything the batch touches, ``service.IntakeBatch``), authorizes each event's
namespaces, then stores the raw events, derives the graph and appends one audit entry per
request; then it commits and answers every request. A 201 therefore still means the event and
its audit entry are durable. With one producer a batch holds one request; under load a batch
holds many and the cost per event falls. A batch whose connection the database dropped goes again
once on a new connection.

If a batch fails, its requests are retried one by one (``BatchWriter``), so one bad request (a
value the database refuses) fails alone; a failed request's audit entry is written in a
transaction of its own.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from lineage import access, service
from lineage.audit import PendingEntry, append_audit_batch
from lineage.db.availability import is_unavailable
from lineage.db.session import session_scope
from lineage.errors import (
    Forbidden,
    InvalidEvent,
    LineageError,
    StoreUnavailable,
    Unauthenticated,
)

log = logging.getLogger("lineage.intake")
ACTION = "POST /api/v1/lineage"


@dataclass(frozen=True)
class Submission:
    """One intake request: its bearer token, and either a validated event or why it is invalid."""

    token: str
    incoming: service.Incoming | None
    error: InvalidEvent | None
    source_address: str
    path: str


@dataclass(frozen=True)
class Outcome:
    """The answer to one submission: a result, or the error to raise, and who asked."""

    principal: str
    result: service.IngestResult | None = None
    error: LineageError | None = None


class RefusedValue(Exception):  # noqa: N818 (a condition, not a failure of the service)
    """The database refused a value of this request (a NUL in text, a number out of range)."""


_STOP = object()
Waiter = asyncio.Future["Outcome"]
Answer = Outcome | Exception
Deliver = Callable[[list[tuple[Any, Answer]]], None]


class Writer(Protocol):
    """What the HTTP layer needs of an intake writer (in-process thread or separate process)."""

    batches: int  # batches committed so far (``/metrics``)

    async def submit(self, submission: Submission) -> Outcome:
        """Queue a request and wait until its batch has committed."""
        ...

    async def aclose(self) -> None:
        """Answer what is queued, then stop."""
        ...


class BatchWriter:
    """Commits one batch of intake requests and hands their answers to ``deliver``.

    If the batch fails it goes again once when its connection was lost, else its requests go
    one by one, so that one bad request (a value the database refuses) fails alone; a failed
    request's audit entry is written in a transaction of its own. Audit entries are chained
    with ``key`` (``LINEAGE_AUDIT_KEY``; None: plain SHA-256).
    """

    def __init__(
        self, factory: sessionmaker[Session], deliver: Deliver, *, key: bytes | None
    ) -> None:
        self._factory = factory
        self._deliver = deliver
        self._key = key

    def process(self, batch: list[tuple[Submission, Any]], retry: bool = True) -> None:
        """Commit ``batch`` (requests and their answer keys), then deliver every answer."""
        try:
            with session_scope(self._factory) as session:
                outcomes = handle(session, [s for s, _ in batch], key=self._key)
        except Exception as exc:
            if retry and isinstance(exc, DBAPIError) and exc.connection_invalidated:
                # The connection died (a database restart or a killed backend); the pool has
                # dropped it, so the same batch goes again on a fresh one.
                log.warning("intake connection lost; retrying the batch on a new connection")
                self.process(batch, retry=False)
                return
            if len(batch) > 1:
                for item in batch:
                    self.process([item])
                return
            self._fail(*batch[0], exc)
            return
        self._deliver([(key, outcome) for (_, key), outcome in zip(batch, outcomes, strict=True)])

    def _fail(self, submission: Submission, key: Any, exc: Exception) -> None:
        try:
            with session_scope(self._factory) as session:
                principal = access.authenticate(session, submission.token)
                name = principal.name if principal else "anonymous"
                entry = _entry(submission, name, allowed=True)
                append_audit_batch(session, [entry], key=self._key)
        except Exception as audit_exc:
            if is_unavailable(audit_exc):  # the answer below says so; no traceback per request
                log.warning("no audit entry for a failed intake request: database unavailable")
            else:
                log.exception("could not append to the audit log for a failed intake request")
        if isinstance(exc, DataError):
            answer: Answer = RefusedValue(str(exc.orig))
        elif is_unavailable(exc):  # answered 503: the request may be sent again
            log.warning("intake request not stored, the database is unavailable: %s", _line(exc))
            answer = Outcome("anonymous", error=StoreUnavailable(what="lineage database"))
        else:
            log.error("intake request failed", exc_info=exc)
            answer = RuntimeError(f"intake failed: {type(exc).__name__}")
        self._deliver([(key, answer)])


def _line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class IntakeQueue:
    """A writer thread that commits queued intake requests in batches (``BatchWriter``)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        max_batch: int = 500,
        linger: float = 0.002,
        deliver: Deliver | None = None,
        *,
        key: bytes | None,
    ) -> None:
        self._writer = BatchWriter(factory, deliver or settle, key=key)
        self.batches = 0  # batches written, for /metrics
        self._max_batch = max_batch
        self._linger = linger
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="lineage-intake", daemon=True)
        self._thread.start()

    async def submit(self, submission: Submission) -> Outcome:
        """Queue a request and wait (on the event loop) until its batch has committed.

        Raises:
            Exception: what the database raised when the request failed on its own.

        """
        waiter: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._queue.put((submission, waiter))
        return await waiter

    def close(self) -> None:
        """Answer what is queued, then stop the writer thread."""
        self._queue.put(_STOP)
        self._thread.join()

    async def aclose(self) -> None:
        """``close`` without blocking the event loop."""
        await asyncio.to_thread(self.close)

    def _run(self) -> None:
        last = 0  # size of the previous batch: how many producers were just answered
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            # Producers answered by the previous batch are sending their next event: wait up to
            # ``linger`` for them (group commit's commit delay), so that concurrent producers
            # share one transaction instead of splitting into alternating halves. A lone
            # producer (last == 1) never waits.
            wanted = min(self._max_batch, self._queue.qsize() + 1 + (last if last > 1 else 0))
            deadline = time.monotonic() + self._linger
            stop = False
            while len(batch) < self._max_batch:
                wait = deadline - time.monotonic() if len(batch) < wanted else 0.0
                try:
                    item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            self._writer.process(batch)  # type: ignore[arg-type]
            self.batches += 1
            last = len(batch)
            if stop:
                return


def settle(results: list[tuple[Any, Answer]]) -> None:
    """Hand results to the waiting requests: one wake-up of each event loop per batch."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Waiter, Answer]]] = {}
    for waiter, result in results:
        by_loop.setdefault(waiter.get_loop(), []).append((waiter, result))
    for loop, items in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve, items)
        except RuntimeError:  # the loop has closed: nobody is waiting any more
            log.warning("event loop closed before %d intake answers were delivered", len(items))


def _resolve(items: list[tuple[Waiter, Answer]]) -> None:
    for waiter, result in items:
        if waiter.done():  # the request was cancelled (client gone)
            continue
        if isinstance(result, Exception):
            waiter.set_exception(result)
        else:
            waiter.set_result(result)


def _entry(submission: Submission, principal: str, *, allowed: bool) -> PendingEntry:
    incoming = submission.incoming
    obj = incoming.parsed.subject if incoming is not None else submission.path
    return PendingEntry(
        datetime.now(UTC), principal, ACTION, obj, allowed, submission.source_address
    )


def handle(session: Session, submissions: list[Submission], *, key: bytes | None) -> list[Outcome]:
    """Authenticate, authorize, store and audit a batch of intake requests (the caller commits).

    Checks run in the order of a single request: no valid token is 401, an invalid event 422,
    a namespace outside the caller's grants 403. Audit entries are chained with ``key``.
    """
    candidates = [s.incoming for s in submissions if s.incoming is not None]
    by_hash = access.token_hashes({s.token for s in submissions})
    batch = service.IntakeBatch.open(session, candidates, token_hashes=by_hash, audit=True)
    principals = access.principals_of(by_hash, batch.callers)
    outcomes: list[Outcome] = []
    accepted: list[service.Incoming] = []
    slots: list[int] = []
    entries: list[PendingEntry] = []
    for submission in submissions:
        principal = principals.get(submission.token)
        if principal is None:
            outcome = Outcome(
                "anonymous", error=Unauthenticated("a valid bearer token is required")
            )
        elif submission.error is not None or submission.incoming is None:
            outcome = Outcome(principal.name, error=submission.error)
        else:
            outcome = Outcome(principal.name, error=_forbidden(principal, submission.incoming))
            if outcome.error is None:
                slots.append(len(outcomes))
                incoming = _read_only(principal, submission.incoming)
                accepted.append(replace(incoming, received_by=principal.name))
        allowed = not isinstance(outcome.error, Unauthenticated | Forbidden)
        entries.append(_entry(submission, outcome.principal, allowed=allowed))
        outcomes.append(outcome)
    results = batch.store(accepted, entries, key=key)
    for slot, result in zip(slots, results, strict=True):
        outcomes[slot] = Outcome(outcomes[slot].principal, result=result)
    return outcomes


def _forbidden(principal: access.Principal, incoming: service.Incoming) -> Forbidden | None:
    parsed = incoming.parsed
    written = set(parsed.written_namespaces)
    for d in parsed.inputs:  # an input it may write keeps its facets: its aliases are claims
        if d.namespace in written or access.authorize(principal, "write", d.namespace):
            written |= {namespace for namespace, _ in d.aliases}
    for namespace in sorted(written):
        if not access.authorize(principal, "write", namespace):
            return Forbidden(principal=principal.name, action="write", namespace=namespace)
    return None


def _read_only(principal: access.Principal, incoming: service.Incoming) -> service.Incoming:
    """The event with the input namespaces its producer may only read marked so."""
    parsed = incoming.parsed
    outside = frozenset(
        d.namespace
        for d in parsed.inputs
        if d.namespace not in parsed.written_namespaces
        and not access.authorize(principal, "write", d.namespace)
    )
    if not outside:
        return incoming
    return replace(incoming, parsed=replace(parsed, read_only=outside))
