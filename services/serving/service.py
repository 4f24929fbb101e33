"""The feature server's domain logic: plans, online reads, push, logging, metrics.

Routes call these methods with parsed requests; nothing here knows about HTTP.
"""

from __future__ import annotations

import base64
import math
import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

import pandas as pd
import pydantic_core

from services.errors import (
    BatchRejectedError,
    OnlineStoreUnavailableError,
    RequestError,
    RequestTooLargeError,
)
from services.ingestion.gate import IngestResult, ingest_frame
from services.online.reader import (
    FeatureColumn,
    OnlineReader,
    OnlineResult,
    online_features,
    online_features_async,
)
from services.online.state import lost_state_reason, lost_views
from services.resolution import ServicePlan, plan_features, plan_service
from services.serving.metrics import Metrics
from services.serving.schemas import (
    GetOnlineFeaturesRequest,
    GetOnlineFeaturesResponse,
    PushRequest,
    PushResponse,
)
from services.serving.served_log import ServedLog
from services.store import Store

_EPOCH = "1970-01-01T00:00:00Z"


def _iso(moment: datetime | None) -> str:
    return _EPOCH if moment is None else moment.isoformat().replace("+00:00", "Z")


def _json_safe(value: Any) -> Any:
    """Bytes as standard base64 text (as Feast's JSON answers carry them), also when nested."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value


class FeatureService:
    """One per worker: the registry snapshot, the online reader and the served log."""

    def __init__(self, store: Store, metrics: Metrics) -> None:
        self.store = store
        self.reader = OnlineReader(store)
        self.metrics = metrics
        self.log = ServedLog(store.settings.served_dir, store.settings.serve_log_sample_rate)
        self._plans: dict[str, ServicePlan] = {}
        self._ages: dict[str, Any] = {}  # value-age histogram child per view
        self._registry_read = time.monotonic()

    def _refresh_registry(self, *, force: bool = False) -> None:
        """Re-read the registry (and drop cached plans) once it is older than its ttl.

        A server must see ``skewless apply``: a new feature service or a changed view is
        served within ``SKEWLESS_REGISTRY_TTL_S`` without a restart; ``force`` re-reads it now
        (a push with Feast's ``allow_registry_cache: false``).
        """
        now = time.monotonic()
        if not force and now - self._registry_read < self.store.settings.registry_ttl_s:
            return
        self._registry_read = now
        self.store.refresh()
        self._plans.clear()

    def plan(self, request: GetOnlineFeaturesRequest) -> ServicePlan:
        if request.feature_service and request.features:
            raise RequestError("give either feature_service or features, not both")
        self._refresh_registry()
        if request.feature_service:
            name = request.feature_service
            if name not in self._plans:
                self._plans[name] = plan_service(self.store, name)
            return self._plans[name]
        return plan_features(self.store, list(request.features or []))

    def _inputs(
        self, request: GetOnlineFeaturesRequest
    ) -> tuple[ServicePlan, dict[str, list[Any]], dict[str, list[Any]]]:
        plan = self.plan(request)
        if not request.full_feature_names:  # two views' same name: refused, as Feast does
            plan.output_names()
        # Request data may come among the entities, as Feast sends it: check_request splits it.
        return plan, dict(request.entities), dict(request.request_data or {})

    def get_online_features(self, request: GetOnlineFeaturesRequest) -> GetOnlineFeaturesResponse:
        """Feast's ``/get-online-features`` answer, read synchronously (SDK-style callers)."""
        plan, entities, request_data = self._inputs(request)
        result = online_features(self.reader, plan, entities, request_data)
        self._observe(plan, result, f"{random.getrandbits(64):016x}")
        return GetOnlineFeaturesResponse.model_validate(self._body(plan, request, result))

    async def serve_online_features(
        self,
        request: GetOnlineFeaturesRequest,
        request_id: str,
        *,
        check_views: Callable[[list[str], list[tuple[str, str]]], None],
    ) -> tuple[bytes, list[str]]:
        """The JSON body of the answer, read on the event loop, and the views it read.

        ``check_views`` gets the views the request would read (those on-demand views read
        included) and its PII fields (``view:feature``, classification), once it is planned and
        before anything is read; it raises to refuse them (e.g. outside the caller's grants).
        Serialized straight from plain lists (the shape of ``GetOnlineFeaturesResponse``):
        building and validating a model per feature cost more than the lookup itself.
        """
        plan, entities, request_data = self._inputs(request)
        views = list(dict.fromkeys([v.view for v in plan.fetch] + [o.view for o in plan.on_demand]))
        check_views(views, pii_fields(plan))
        result = await online_features_async(self.reader, plan, entities, request_data)
        self._observe(plan, result, request_id)
        return pydantic_core.to_json(self._body(plan, request, result)), views

    def _body(
        self, plan: ServicePlan, request: GetOnlineFeaturesRequest, result: OnlineResult
    ) -> dict[str, Any]:
        names = [c.name for c in result.columns]
        if request.full_feature_names:
            names = plan.join_keys + plan.output_names(full=True)
        iso: dict[datetime | None, str] = {}
        results = []
        for c in result.columns:
            stamps = []
            for t in c.event_timestamps:
                text = iso.get(t)
                if text is None:
                    text = iso[t] = _iso(t)
                stamps.append(text)
            values = c.values
            if any(isinstance(v, bytes | dict | list) for v in values):
                values = [_json_safe(v) for v in values]
            results.append({"values": values, "statuses": c.statuses, "event_timestamps": stamps})
        metadata: dict[str, Any] = {"feature_names": names}
        if request.include_feature_view_version_metadata:
            metadata["feature_view_metadata"] = self._view_versions(plan)
        return {"metadata": metadata, "results": results}

    def _view_versions(self, plan: ServicePlan) -> list[dict[str, Any]]:
        """Each view the answer names, with its Feast version number (0 when unversioned)."""
        out: dict[str, int] = {}
        for name in [v.view for v in plan.views] + [o.view for o in plan.on_demand]:
            view = self.store.feature_views.get(name) or self.store.odfvs.get(name)
            out.setdefault(name, int(getattr(view, "current_version_number", 0) or 0))
        return [{"name": name, "version": version} for name, version in out.items()]

    def _observe(self, plan: ServicePlan, result: OnlineResult, request_id: str) -> None:
        by_name: dict[str, FeatureColumn] = {}
        for c in result.columns:
            by_name.setdefault(c.name, c)
        for read in plan.views:
            age = self._ages.get(read.view)
            if age is None:
                age = self._ages[read.view] = self.metrics.value_age.labels(read.view)
            for seconds in by_name[read.features[0].name].ages(result.at):
                if seconds is not None:
                    age.observe(max(seconds, 0.0))
        self.log.record(plan.name, request_id, result.at, result.columns)

    def health(self) -> tuple[Literal["ok", "degraded", "unavailable"], str | None]:
        """The server's health as ``(status, reason)``.

        ``unavailable`` when the online store does not answer, ``degraded`` when it answers but
        lost the values written to it (restarted empty, flushed).
        """
        if not self.reader.ping():
            return "unavailable", "the online store does not answer"
        try:
            lost = lost_views(self.store)
        except OnlineStoreUnavailableError as exc:
            return "unavailable", str(exc)
        return ("degraded", lost_state_reason(lost)) if lost else ("ok", None)

    def push(self, request: PushRequest) -> tuple[PushResponse, IngestResult]:
        self._refresh_registry(force=not request.allow_registry_cache)
        lengths = {len(v) for v in request.df.values()}
        if len(lengths) > 1:
            raise RequestError("push df columns have different lengths")
        rows = lengths.pop() if lengths else 0
        if rows == 0:
            raise RequestError("push df has no rows")
        if rows > self.store.settings.serve_max_entities * 10:
            raise RequestTooLargeError("push rows", self.store.settings.serve_max_entities * 10)
        frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in request.df.items()})
        frame = frame.map(lambda v: None if isinstance(v, float) and math.isnan(v) else v)
        result = ingest_frame(
            self.store,
            request.push_source_name,
            frame,
            policy="reject",
            origin="POST /push",
            update_online=request.to != "offline",
        )
        if not result.accepted:
            raise BatchRejectedError(request.push_source_name, result)
        return PushResponse(
            source=result.source,
            received=result.received,
            written=result.written,
            dataset_version=result.dataset_version,
            online_entities=result.online_entities,
        ), result

    def close(self) -> None:
        self.log.close()
        self.reader.close()

    async def aclose(self) -> None:
        """:meth:`close`, plus the event loop's Redis connections (the server's shutdown)."""
        self.log.close()
        await self.reader.aclose()


def pii_fields(plan: ServicePlan) -> list[tuple[str, str]]:
    """``(view:feature, classification)`` of every PII field the plan reads or returns."""
    out = [
        (f"{read.view}:{f.name}", f.classification or "unclassified")
        for read in plan.fetch
        for f in read.features
        if f.pii
    ]
    out += [
        (f"{o.view}:{f.name}", f.classification or "unclassified")
        for o in plan.on_demand
        for f in o.features
        if f.pii
    ]
    return list(dict.fromkeys(out))


def read_reasons(result: Any) -> list[dict[str, Any]]:
    """Row-level reasons of a rejected push, from its quarantine file."""
    if not result.quarantine_path:
        return []
    import json

    frame = pd.read_parquet(result.quarantine_path, columns=["_row", "_reasons"])
    out = []
    for row, reasons in zip(frame["_row"], frame["_reasons"], strict=True):
        for r in json.loads(reasons):
            if r["check"] != "batch_rejected":
                out.append({"row": int(row), **r})
    return out
