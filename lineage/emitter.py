"""The data plane's lineage emitter: OpenLineage START/COMPLETE/FAIL events and model versions.

Events are built with openlineage-python and delivered either in-process (``url == ""``: straight
into the lineage database through ``lineage.service``) or over HTTP with the client's
``HttpTransport`` and a bearer token. A delivery failure never reaches the caller: the record is
appended (fsync'd) to a JSONL spool and replayed, in order, before the next emit or on ``flush``.
Intake is idempotent by content hash, so replaying a record that did arrive is harmless.
Records the service rejects as invalid go to ``<spool>.rejected.jsonl`` instead of blocking replay.
Where the spool lives is decided once, by :func:`resolve_spool_path`, for the data plane that
writes it and for ``skewless lineage flush`` that replays it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
import os
import threading
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.error import HTTPError

from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
from openlineage.client.serde import Serde
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport
from openlineage.client.uuid import generate_new_uuid
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from lineage import service
from lineage.db.migrate import upgrade_head
from lineage.db.session import make_engine, make_sessionmaker, session_scope
from lineage.errors import Conflict, InvalidEvent, InvalidQuery, NotFound
from lineage.event_parts import ColumnInput, DatasetRef, error_facet, input_dataset, output_dataset
from lineage.identity import NAMESPACE
from lineage.settings import data_dir as settings_data_dir
from lineage.settings import environment_setting

__all__ = ["PRODUCER", "ColumnInput", "DatasetRef", "Emitter", "resolve_spool_path"]
log = logging.getLogger("lineage.emitter")
PRODUCER = "https://github.com/skewless/skewless/tree/main/lineage"
PERMANENT_HTTP_ERRORS = frozenset({400, 409, 413, 422})
HTTP_RETRY = {"total": 2, "read": 2, "connect": 2, "backoff_factor": 0.1}
SPOOL_NAME = "lineage-spool.jsonl"


def resolve_spool_path(
    explicit: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """The one answer to "where is the lineage spool", for whoever writes or replays it.

    First ``explicit`` (the caller's ``LINEAGE_SPOOL_PATH`` setting or a ``--spool`` flag), then
    ``LINEAGE_SPOOL_PATH``; otherwise ``lineage-spool.jsonl`` in ``data_dir``, then in
    ``SKEWLESS_DATA_DIR``, then in ``./data``. Variables are read from the environment, then
    ``./.env``, as the data plane's settings read them.
    """
    chosen = str(explicit or "").strip() or environment_setting("LINEAGE_SPOOL_PATH")
    if chosen:
        return Path(chosen)
    folder = str(data_dir or "").strip()
    return (Path(folder) if folder else settings_data_dir()) / SPOOL_NAME


class _Rejected(Exception):  # noqa: N818 (private: a record the receiver will never accept)
    pass


class Emitter:
    """Send lineage for the data plane; never fails the caller because lineage is unavailable."""

    def __init__(
        self, *, database_url: str, url: str = "", token: str = "", spool_path: Path
    ) -> None:
        self._database_url = database_url
        self._url = url.rstrip("/")
        self._token = token
        self._spool = Path(spool_path)
        self._rejected = self._spool.with_name(self._spool.name + ".rejected.jsonl")
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._maker: sessionmaker[Session] | None = None
        self._transport: HttpTransport | None = None

    # -- public API ------------------------------------------------------------------------

    def emit_run(
        self,
        job: str,
        *,
        inputs: Sequence[DatasetRef] = (),
        outputs: Sequence[DatasetRef] = (),
        run_facets: Mapping[str, Any] | None = None,
        job_facets: Mapping[str, Any] | None = None,
        fail: BaseException | None = None,
    ) -> str:
        """Emit START then COMPLETE (or FAIL when ``fail`` is given) for one run of ``job``.

        Args:
            job: The job name, from ``lineage.identity.job_name``.
            inputs: Datasets read.
            outputs: Datasets written.
            run_facets: Extra run facets (OpenLineage facet objects or JSON dicts).
            job_facets: Extra job facets, e.g. ``sourceCodeLocation``.
            fail: The caller's error; a FAIL event carrying it is sent and nothing is raised.

        Returns:
            The run id (a UUIDv7 string).

        """
        run_id = str(generate_new_uuid())
        ins, outs = [input_dataset(r) for r in inputs], [output_dataset(r) for r in outputs]
        end_facets: dict[str, Any] = dict(run_facets or {})
        if fail is not None:
            end_facets["errorMessage"] = error_facet(fail)
        states = (
            (RunState.START, dict(run_facets or {})),
            (RunState.FAIL if fail is not None else RunState.COMPLETE, end_facets),
        )
        for state, facets in states:
            event = RunEvent(
                eventType=state,
                eventTime=datetime.now(UTC).isoformat(),
                run=Run(runId=run_id, facets=facets),
                job=Job(namespace=NAMESPACE, name=job, facets=dict(job_facets or {})),
                producer=PRODUCER,
                inputs=ins,
                outputs=outs,
            )
            self._send({"kind": "event", "body": Serde.to_dict(event)})
        return run_id

    def register_model(
        self,
        name: str,
        version: str,
        training_set_version: str,
        metrics: Mapping[str, float],
        *,
        training_set: str | None = None,
        code_version: str | None = None,
    ) -> None:
        """Record a model version trained on ``training_set_version`` (spooled if undeliverable).

        ``training_set`` names the training set's dataset node (``dataset:<ns>:<name>``); it
        is needed only when several training sets hold ``training_set_version``.
        ``code_version`` is the code it was registered from (a git commit), if known.
        """
        from lineage.registry import check_model_names

        check_model_names(name, version)  # a caller's mistake: raised now, never spooled
        body: dict[str, Any] = {
            "name": name,
            "version": version,
            "trainingSetVersion": training_set_version,
            "metrics": _metrics(metrics),
            "namespace": NAMESPACE,
        }
        if training_set is not None:
            body["trainingSet"] = training_set
        if code_version is not None:
            body["codeVersion"] = code_version
        self._send({"kind": "model", "body": body})

    def register_deployment(
        self, model: str, version: str, environment: str, feature_service: str
    ) -> None:
        """Record that a model version serves in ``environment`` from ``feature_service``.

        Spooled if undeliverable, behind the model's own registration; refused (kept in the
        ``.rejected.jsonl`` beside the spool) when lineage holds no such model version or
        feature service.
        """
        body = {
            "model": model,
            "version": version,
            "environment": environment,
            "featureService": feature_service,
        }
        self._send({"kind": "deployment", "body": body})

    def summary(self) -> dict[str, Any] | None:
        """Counts of the lineage graph when delivering in-process (None over HTTP)."""
        if self._url:
            return None
        with self._lock:
            maker = self._local_maker()
            with session_scope(maker) as session:
                return dict(service.summary(session))

    @property
    def spool_path(self) -> Path:
        """Where undeliverable records wait."""
        return self._spool

    def waiting(self) -> int:
        """How many records wait in the spool (0 when there is none)."""
        if not self._spooled():
            return 0
        with self._spool.open(encoding="utf-8") as handle:
            return sum(1 for line in handle if line.strip())

    def flush(self, progress: Callable[[str], None] | None = None) -> int:
        """Replay the spool in order; returns how many records were delivered.

        Args:
            progress: Called with each record's kind (``event``, ``model``, ``deployment``)
                once it is delivered or moved to the rejected file.

        """
        with self._lock, self._spool_lock():
            return self._replay(progress)

    def close(self) -> None:
        """Release the database engine and HTTP session."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = self._maker = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    # -- delivery --------------------------------------------------------------------------

    def _send(self, record: dict[str, Any]) -> None:
        with self._lock, self._spool_lock():
            self._replay()
            if self._spooled():
                self._append(self._spool, record)  # keep order behind what is still waiting
                return
            try:
                self._deliver(record)
            except _Rejected as exc:
                log.error("lineage record rejected, kept in %s: %s", self._rejected, exc)
                self._append(self._rejected, record)
            except Exception as exc:
                log.warning("lineage delivery failed, spooled to %s: %s", self._spool, exc)
                self._append(self._spool, record)

    def _deliver(self, record: dict[str, Any]) -> None:
        if self._url:
            self._deliver_http(record)
        else:
            self._deliver_local(record)

    def _local_maker(self) -> sessionmaker[Session]:
        if self._maker is None:
            upgrade_head(self._database_url)  # a no-op when the database is already at head
            self._engine = make_engine(self._database_url)
            self._maker = make_sessionmaker(self._engine)
        return self._maker

    def _deliver_local(self, record: dict[str, Any]) -> None:
        maker = self._local_maker()
        body = record["body"]
        try:
            with session_scope(maker) as session:
                if record["kind"] == "event":
                    service.ingest_event(session, body, received_by="emitter")
                elif record["kind"] == "deployment":
                    service.register_deployment(
                        session,
                        body["model"],
                        body["version"],
                        body["environment"],
                        feature_service=body["featureService"],
                    )
                else:
                    service.register_model(
                        session,
                        body["name"],
                        body["version"],
                        body["trainingSetVersion"],
                        body["metrics"],
                        namespace=body["namespace"],
                        training_set=body.get("trainingSet"),
                        code_version=body.get("codeVersion"),
                    )
        except (InvalidEvent, InvalidQuery, Conflict, NotFound) as exc:
            # None of these becomes valid by being sent again (the spool keeps the order in
            # which a model follows its training set and a deployment its model).
            raise _Rejected(str(exc)) from exc

    def _deliver_http(self, record: dict[str, Any]) -> None:
        if record["kind"] == "event":
            if self._transport is None:
                auth = ApiKeyTokenProvider({"apiKey": self._token}) if self._token else None
                config = HttpConfig(url=self._url, timeout=5.0, retry=HTTP_RETRY)
                if auth is not None:
                    config.auth = auth
                self._transport = HttpTransport(config)
            try:
                self._transport.emit(record["body"])
            except Exception as exc:
                status = getattr(getattr(exc, "response", None), "status_code", None)
                if status in PERMANENT_HTTP_ERRORS:
                    raise _Rejected(str(exc)) from exc
                raise
            return
        path = "/api/v1/deployments" if record["kind"] == "deployment" else "/api/v1/models"
        request = urllib.request.Request(
            f"{self._url}{path}",
            data=json.dumps(record["body"]).encode("utf-8"),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self._token}"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=5.0) as response:
                response.read()
        except HTTPError as exc:
            # A deployment's 404 names a model version the service does not hold: as
            # permanent as a 422.
            unknown_model = exc.code == 404 and record["kind"] == "deployment"
            if exc.code in PERMANENT_HTTP_ERRORS or unknown_model:
                raise _Rejected(str(exc)) from exc
            raise

    # -- spool -----------------------------------------------------------------------------

    @contextmanager
    def _spool_lock(self) -> Iterator[None]:
        """Serialize spool access across processes with an advisory lock file."""
        self._spool.parent.mkdir(parents=True, exist_ok=True)
        with open(self._spool.with_name(self._spool.name + ".lock"), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _spooled(self) -> bool:
        return self._spool.exists() and self._spool.stat().st_size > 0

    @staticmethod
    def _append(path: Path, record: dict[str, Any]) -> None:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def _replay(self, progress: Callable[[str], None] | None = None) -> int:
        """Deliver spooled records in order; stop at the first failure and keep the rest."""
        if not self._spooled():
            return 0
        lines = [ln for ln in self._spool.read_text(encoding="utf-8").splitlines() if ln.strip()]
        done = 0
        for line in lines:
            record = json.loads(line)
            kind = str(record["kind"])
            try:
                self._deliver(record)
            except _Rejected as exc:
                log.error("spooled lineage record rejected, moved to %s: %s", self._rejected, exc)
                self._append(self._rejected, json.loads(line))  # as spooled, not as delivered
            except Exception:
                break
            done += 1
            if progress is not None:
                progress(kind)
        self._rewrite(lines[done:])
        return done

    def _rewrite(self, lines: list[str]) -> None:
        tmp = self._spool.with_name(self._spool.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write("".join(line + "\n" for line in lines))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self._spool)


def _metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    """A model's metrics as finite floats; anything else is a ``ValueError`` naming the metric.

    NaN and infinities were stored and then printed by ``lineage provenance --json`` as
    ``NaN``/``Infinity``, which no strict JSON reader takes.
    """
    out: dict[str, float] = {}
    for name, value in metrics.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"metric {name!r}: {value!r} is not a number") from None
        if not math.isfinite(number):
            raise ValueError(f"metric {name!r}: {number} is not a finite number")
        out[str(name)] = number
    return out
