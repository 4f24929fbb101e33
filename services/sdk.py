"""The public Python API for training code, serving code and producers.

    from services import sdk
    frame, version = sdk.training_set(entities, "<feature service>", name="<training set>")
    result = sdk.online_features("<feature service>", {"<join key>": [<value>]},
                                 {"<request field>": [<value>]})
    sdk.ingest("<source>", frame)

Each call opens the project from the settings (``SKEWLESS_*``) unless a ``Client``
is used, which keeps the registry and connections open across calls.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from services.contracts.base import Policy
from services.errors import UnknownFeatureServiceError
from services.ingestion.gate import IngestResult, ingest_frame
from services.lineage_events import emit_deployment, emit_model, emit_training_set
from services.offline.training import (
    Steps,
    TrainingSetVersion,
    build_training_set,
    training_set_names,
)
from services.online.reader import OnlineReader, OnlineResult
from services.online.reader import online_features as _online_features
from services.online.requests import ValueColumns
from services.resolution import ServicePlan, plan_service
from services.settings import Settings, get_settings
from services.store import Store


class Client:
    """A long-lived handle: one registry load, one online connection pool."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.store = Store(self.settings)
        self._reader: OnlineReader | None = None
        self._plans: dict[str, ServicePlan] = {}

    def plan(self, service: str) -> ServicePlan:
        if service not in self._plans:
            self._plans[service] = plan_service(self.store, service)
        return self._plans[service]

    @property
    def reader(self) -> OnlineReader:
        if self._reader is None:
            self._reader = OnlineReader(self.store)
        return self._reader

    def training_set(
        self,
        entities: pd.DataFrame,
        feature_service: str,
        *,
        name: str | None = None,
        steps: Steps | None = None,
    ) -> tuple[pd.DataFrame, TrainingSetVersion]:
        """A point-in-time correct frame and its recorded version (see ``build_training_set``).

        ``steps`` hears of each step as it starts, as ``build_training_set``'s does, then of
        the lineage event's delivery.
        """
        frame, version = build_training_set(
            self.store, feature_service, entities, name=name, steps=steps
        )
        if steps is not None:
            steps("recording lineage")
        emit_training_set(self.settings, version)
        return frame, version

    def online_features(
        self,
        feature_service: str,
        entities: ValueColumns,
        request_data: ValueColumns | None = None,
        *,
        full_feature_names: bool = False,
    ) -> OnlineResult:
        """Online values with status, event time and age per feature.

        Args:
            feature_service: The feature service to read.
            entities: A list of values per join key (a list, tuple, numpy array or pandas
                Series), one per entity row; request data may be given here too, as Feast
                takes it.
            request_data: The on-demand features' request fields, a list of values each.
            full_feature_names: Name each feature ``view__feature`` (the projection's name
                for a view read ``with_name``). Without it a service answering two features
                under one name is refused (``RequestError``), as Feast and the feature
                server refuse it, rather than one of them hiding the other by name.

        """
        plan = self.plan(feature_service)
        if not full_feature_names:
            plan.output_names()  # raises on a name two views answer
        return _online_features(
            self.reader, plan, entities, request_data, full_feature_names=full_feature_names
        )

    def ingest(
        self, source: str, frame: pd.DataFrame, *, policy: Policy | None = None
    ) -> IngestResult:
        """Validate and write a DataFrame through the same gate as ``skewless ingest``."""
        return ingest_frame(self.store, source, frame, policy=policy)

    def register_model(
        self,
        name: str,
        version: str,
        training_set_version: str,
        metrics: Mapping[str, float],
        *,
        training_set: str | None = None,
    ) -> None:
        """Record a model version trained on a training-set version, in lineage.

        Lineage links the model to that training-set version, so it must already be recorded:
        build it with :meth:`training_set` first (its event is delivered, or spooled, ahead of
        this one). Training sets of identical content share a version; ``training_set`` (the
        name given to :meth:`training_set`) says which one is meant, and defaults to the only
        training set under this data directory that holds the version, if there is one. A
        version lineage does not hold, or one several training sets share with no name to
        choose, is refused; the emitter logs it and keeps it in the spool's ``.rejected.jsonl``.
        """
        if training_set is None:
            names = training_set_names(self.settings.training_dir, training_set_version)
            training_set = names[0] if len(names) == 1 else None
        emit_model(
            self.settings, name, version, training_set_version, metrics, training_set=training_set
        )

    def register_deployment(
        self, model: str, version: str, environment: str, feature_service: str
    ) -> None:
        """Record, in lineage, that a model version serves in ``environment`` from a service.

        The feature service must be one of this project's (``UnknownFeatureServiceError``
        otherwise, before anything is sent) and the model version registered with
        :meth:`register_model`; impact answers then name the deployment, and feature-view usage
        lists it for every view the service selects.
        """
        if feature_service not in self.store.services:
            raise UnknownFeatureServiceError(feature_service)
        emit_deployment(self.settings, model, version, environment, feature_service)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the online connections and the registry (``with Client() as client`` does)."""
        if self._reader is not None:
            self._reader.close()
        self.store.close()


def training_set(
    entities: pd.DataFrame, feature_service: str, *, name: str | None = None
) -> tuple[pd.DataFrame, TrainingSetVersion]:
    client = Client()
    try:
        return client.training_set(entities, feature_service, name=name)
    finally:
        client.close()


def online_features(
    feature_service: str,
    entities: ValueColumns,
    request_data: ValueColumns | None = None,
    *,
    full_feature_names: bool = False,
) -> OnlineResult:
    client = Client()
    try:
        return client.online_features(
            feature_service, entities, request_data, full_feature_names=full_feature_names
        )
    finally:
        client.close()


def ingest(source: str, frame: pd.DataFrame, *, policy: Policy | None = None) -> IngestResult:
    client = Client()
    try:
        return client.ingest(source, frame, policy=policy)
    finally:
        client.close()


def register_model(
    name: str,
    version: str,
    training_set_version: str,
    metrics: Mapping[str, float],
    *,
    training_set: str | None = None,
) -> None:
    client = Client()
    try:
        client.register_model(
            name, version, training_set_version, metrics, training_set=training_set
        )
    finally:
        client.close()


def register_deployment(model: str, version: str, environment: str, feature_service: str) -> None:
    client = Client()
    try:
        client.register_deployment(model, version, environment, feature_service)
    finally:
        client.close()
