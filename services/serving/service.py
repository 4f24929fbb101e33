"""The feature server's domain logic: plans, online reads, push, logging, metrics.

Routes call these methods with parsed requests; nothing here knows about HTTP.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import Any

import pandas as pd

from services.errors import BatchRejectedError, RequestError, RequestTooLargeError
from services.ingestion.gate import IngestResult, ingest_frame
from services.online.reader import OnlineReader, OnlineResult, online_features
from services.resolution import ServicePlan, plan_features, plan_service
from services.serving.metrics import Metrics
from services.serving.schemas import (
    FeatureResult,
    GetOnlineFeaturesRequest,
    GetOnlineFeaturesResponse,
    Metadata,
    PushRequest,
    PushResponse,
)
from services.serving.served_log import ServedLog
from services.store import Store

_EPOCH = "1970-01-01T00:00:00Z"


def _iso(moment: datetime | None) -> str:
    return _EPOCH if moment is None else moment.isoformat().replace("+00:00", "Z")


class FeatureService:
    """One per worker: the registry snapshot, the online reader and the served log."""

    def __init__(self, store: Store, metrics: Metrics) -> None:
        self.store = store
        self.reader = OnlineReader(store)
        self.metrics = metrics
        self.log = ServedLog(
            store.settings.data_dir / "served", store.settings.serve_log_sample_rate
        )
        self._plans: dict[str, ServicePlan] = {}

    def plan(self, request: GetOnlineFeaturesRequest) -> ServicePlan:
        if request.feature_service and request.features:
            raise RequestError("give either feature_service or features, not both")
        if request.feature_service:
            name = request.feature_service
            if name not in self._plans:
                self._plans[name] = plan_service(self.store, name)
            return self._plans[name]
        return plan_features(self.store, list(request.features or []))

    def get_online_features(self, request: GetOnlineFeaturesRequest) -> GetOnlineFeaturesResponse:
        plan = self.plan(request)
        request_names = {f.name for f in plan.request_fields}
        entities = {k: v for k, v in request.entities.items() if k not in request_names}
        request_data = {k: v for k, v in request.entities.items() if k in request_names}
        request_data.update(request.request_data or {})
        result = online_features(self.reader, plan, entities, request_data)
        self._observe(plan, result)
        names = [c.name for c in result.columns]
        if request.full_feature_names:
            names = plan.join_keys + plan.feature_refs
            names = [n.replace(":", "__") for n in names]
        return GetOnlineFeaturesResponse(
            metadata=Metadata(feature_names=names),
            results=[
                FeatureResult(
                    values=c.values,
                    statuses=c.statuses,
                    event_timestamps=[_iso(t) for t in c.event_timestamps],
                )
                for c in result.columns
            ],
        )

    def views_read(self, request: GetOnlineFeaturesRequest) -> list[str]:
        """The feature views a (successful) request read, for the read audit."""
        plan = self.plan(request)
        return [v.view for v in plan.views] + [o.view for o in plan.on_demand]

    def _observe(self, plan: ServicePlan, result: OnlineResult) -> None:
        for read in plan.views:
            col = next(c for c in result.columns if c.name == read.features[0].name)
            for age in col.ages(result.at):
                if age is not None:
                    self.metrics.value_age.labels(read.view).observe(max(age, 0.0))
        n = len(result.columns[0].values) if result.columns else 0
        rows = [{c.name: c.values[i] for c in result.columns} for i in range(n)]
        self.log.record(plan.name, uuid.uuid4().hex, result.at, rows)

    def push(self, request: PushRequest) -> tuple[PushResponse, IngestResult]:
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
        self.log.flush()
        self.reader.close()


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
