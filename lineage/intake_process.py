"""The intake writer in a process of its own, so that it never waits on the server's GIL.

In one process, the writer thread and the event loop take turns on the GIL: each time the
writer's database call returns, it waits for the loop to let go, a dozen times per batch, and
under load that doubled the time a batch took. Here the event loop validates a request and
queues it; what the handlers of one turn of the loop queued goes down a pipe as one message.
The child process has a single thread: it takes everything waiting in the pipe as one batch
(``BatchWriter``: group commit, one-by-one retry, audit), commits it on its own connection and
sends the batch's answers back in one message, which a reader thread hands to the loop. A 201
still means the event and its audit entry are committed. The child is started with ``spawn``
(the server has threads) and stops when the pipe closes, so it cannot outlive its server.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing
import threading
from multiprocessing.connection import Connection
from typing import Any

from lineage.intake import Answer, BatchWriter, Outcome, Submission, Waiter, settle

log = logging.getLogger("lineage.intake")
READY = "ready"
STARTUP_TIMEOUT_S = 120.0
Message = list[tuple[int, Submission]] | None  # requests with their answer keys; None: stop


class IntakeProcess:
    """``submit``/``aclose`` like ``IntakeQueue``, with the writer in a child process."""

    def __init__(
        self,
        database_url: str,
        max_batch: int = 500,
        linger: float = 0.0,
        *,
        key: bytes | None,
    ) -> None:
        """Start the writer; it chains audit entries with ``key`` (None: plain SHA-256)."""
        # No linger by default: with no GIL to share, a batch committing while the next one
        # gathers beats waiting to make one batch larger (measured under wrk -c32).
        context = multiprocessing.get_context("spawn")
        requests_out, requests_in = context.Pipe(duplex=False)
        answers_out, answers_in = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_child,
            args=(requests_out, answers_in, database_url, max_batch, linger, key),
            name="lineage-intake-writer",
            daemon=True,
        )
        self._process.start()
        requests_out.close()
        answers_in.close()
        # The child says when it has imported everything and connected: a server that starts
        # answering (its /health included) can write its first batch at once.
        started = answers_out.recv() if answers_out.poll(STARTUP_TIMEOUT_S) else None
        if started != READY:
            self._process.kill()
            reason = started or f"no answer within {STARTUP_TIMEOUT_S:.0f} s"
            raise RuntimeError(f"the intake writer did not start: {reason}")
        self._requests = requests_in
        self._answers = answers_out
        self._ids = itertools.count()
        self._pending: dict[int, Waiter] = {}
        self.batches = 0  # batches written, for /metrics
        self._outbox: list[tuple[int, Submission]] = []
        self._reader = threading.Thread(target=self._read, name="lineage-intake-answers")
        self._reader.start()

    async def submit(self, submission: Submission) -> Outcome:
        """Queue a request for the writer and wait until its batch has committed."""
        loop = asyncio.get_running_loop()
        waiter: Waiter = loop.create_future()
        key = next(self._ids)
        self._pending[key] = waiter
        self._outbox.append((key, submission))
        if len(self._outbox) == 1:  # the first of this turn of the loop sends them all
            loop.call_soon(self._flush)
        return await waiter

    def _flush(self) -> None:
        items, self._outbox = self._outbox, []
        if items:  # the child reads its end continuously, so this does not block long
            self._requests.send(items)

    async def aclose(self) -> None:
        """Let the writer answer what it holds, then stop it and the reader."""
        self._flush()
        self._requests.send(None)
        await asyncio.to_thread(self._stop)

    def _stop(self) -> None:
        self._process.join()
        self._reader.join()
        self._requests.close()

    def _read(self) -> None:
        while True:
            try:
                answers: list[tuple[int, Answer]] = self._answers.recv()
            except (EOFError, OSError):
                break
            self.batches += 1  # one message per committed batch (a retried one: per request)
            settle([(self._pending.pop(key), answer) for key, answer in answers])
        stopped = RuntimeError("intake writer stopped")
        lost: list[tuple[Any, Answer]] = [
            (self._pending.pop(k), stopped) for k in list(self._pending)
        ]
        if lost:
            log.error("intake writer stopped with %d requests unanswered", len(lost))
            settle(lost)
        self._answers.close()


def _child(
    requests: Connection,
    answers: Connection,
    database_url: str,
    max_batch: int,
    linger: float,
    key: bytes | None,
) -> None:
    """The writer process: commit what is waiting as one batch, answer it in one message.

    It ignores SIGINT and SIGTERM (a terminal's Ctrl-C or a stop signal to the whole process
    group): it stops when its server closes the pipe, after answering what it holds.
    """
    import signal

    from lineage.db.session import make_engine, make_sessionmaker

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING)
    engine = make_engine(database_url, pre_ping=False)  # BatchWriter retries a dead connection

    def deliver(items: list[tuple[Any, Answer]]) -> None:
        answers.send(items)

    writer = BatchWriter(make_sessionmaker(engine), deliver, key=key)
    try:
        with engine.connect():  # the pool keeps this connection for the first batch
            pass
    except Exception as exc:  # the server reports it and does not start
        answers.send(f"{type(exc).__name__}: {exc}")
        engine.dispose()
        return
    answers.send(READY)
    try:
        stop = False
        while not stop:
            batch, stop = _gather(requests, linger)
            for start in range(0, len(batch), max_batch):
                writer.process(batch[start : start + max_batch])
    finally:
        answers.close()
        engine.dispose()


def _gather(requests: Connection, linger: float) -> tuple[list[tuple[Submission, Any]], bool]:
    """Wait for requests, then take all that are waiting (and, with ``linger``, that soon come).

    Returns the batch and whether the server asked the writer to stop (or went away).
    """
    batch: list[tuple[Submission, Any]] = []
    wait: float | None = None  # block for the first message
    while wait is None or requests.poll(wait):
        try:
            message: Message = requests.recv()
        except (EOFError, OSError):
            return batch, True
        if message is None:
            return batch, True
        batch.extend((submission, key) for key, submission in message)
        wait = linger
    return batch, False
