"""The intake writer in a process of its own, so that it never waits on the server's GIL.

In one process, the writer thread and the event loop take turns on the GIL: each time the
writer's database call returns, it waits for the loop to let go, a dozen times per batch, and
under load that doubled the time a batch took. Here the event loop validates a request and
sends it down a pipe; a child process runs the same ``IntakeQueue`` (group commit, linger,
one-by-one retry, audit) on its own connection and sends each batch's answers back in one
message, which a reader thread hands to the loop. A 201 still means the event and its audit
entry are committed. The child is started with ``spawn`` (the server has threads) and stops
when the pipe closes, so it cannot outlive its server.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing
import threading
from multiprocessing.connection import Connection
from typing import Any

from lineage.intake import Answer, IntakeQueue, Outcome, Submission, Waiter, settle

log = logging.getLogger("lineage.intake")


class IntakeProcess:
    """``submit``/``aclose`` like ``IntakeQueue``, with the writer in a child process."""

    def __init__(self, database_url: str, max_batch: int = 500, linger: float = 0.0) -> None:
        # No linger by default: with no GIL to share, a batch committing while the next one
        # gathers beats waiting to make one batch larger (measured under wrk -c32).
        context = multiprocessing.get_context("spawn")
        requests_out, requests_in = context.Pipe(duplex=False)
        answers_out, answers_in = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_child,
            args=(requests_out, answers_in, database_url, max_batch, linger),
            name="lineage-intake-writer",
            daemon=True,
        )
        self._process.start()
        requests_out.close()
        answers_in.close()
        self._requests = requests_in
        self._answers = answers_out
        self._ids = itertools.count()
        self._pending: dict[int, Waiter] = {}
        self._send = threading.Lock()
        self._reader = threading.Thread(target=self._read, name="lineage-intake-answers")
        self._reader.start()

    async def submit(self, submission: Submission) -> Outcome:
        """Send a request to the writer and wait until its batch has committed."""
        waiter: Waiter = asyncio.get_running_loop().create_future()
        key = next(self._ids)
        self._pending[key] = waiter
        with self._send:  # the child reads its end continuously, so this does not block long
            self._requests.send((key, submission))
        return await waiter

    async def aclose(self) -> None:
        """Let the writer answer what it holds, then stop it and the reader."""
        with self._send:
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
    requests: Connection, answers: Connection, database_url: str, max_batch: int, linger: float
) -> None:
    """The writer process: queue what arrives, answer each batch in one message.

    It ignores SIGINT and SIGTERM (a terminal's Ctrl-C or a stop signal to the whole process
    group): it stops when its server closes the pipe, after answering what it holds.
    """
    import signal

    from lineage.db.session import make_engine, make_sessionmaker

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING)
    engine = make_engine(database_url, pre_ping=False)  # IntakeQueue retries a dead connection

    def deliver(items: list[tuple[Any, Answer]]) -> None:
        answers.send(items)

    writer = IntakeQueue(make_sessionmaker(engine), max_batch, linger, deliver=deliver)
    try:
        while True:
            try:
                message = requests.recv()
            except (EOFError, OSError):
                break
            if message is None:
                break
            key, submission = message
            writer.put(submission, key)
    finally:
        writer.close()
        answers.close()
        engine.dispose()
