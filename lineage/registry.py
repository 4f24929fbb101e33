"""The model registry: model versions, each linked to one training-set version, and deployments.

A model lives in one namespace, fixed when its first version is registered; that namespace
governs every later write to it (new versions, deployments), whatever a request claims. A model
version names the training-set version it was trained on; lineage must hold that version, and
exactly one training set must match it (the caller may name the training set to choose), so the
link provenance, impact and the graph follow is never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from lineage.access import Principal, authorize
from lineage.db import history_sql
from lineage.db import repositories as repo
from lineage.db.models import Deployment, Model, ModelVersion
from lineage.errors import Conflict, Forbidden, InvalidQuery, InvalidReference, NotFound
from lineage.identity import NAMESPACE, feature_service_dataset
from lineage.nodes import Redactor, resolve_node, version_id


@dataclass(frozen=True)
class RegisteredModel:
    """A registered model version: its namespace and the training-set version it links to."""

    name: str
    version: str
    namespace: str
    training_set_version: str
    training_set: str | None  # public id ``datasetVersion:<ns>:training_set/<name>#<version>``


def check_model_names(name: str, version: str) -> None:
    """Refuse what would make a model version's node id or route ambiguous.

    The node id is ``model:<name>:<version>`` and the route ``/provenance/models/<name>/<version>``:
    with ``:`` in a version, (``m:x``, ``1``) and (``m``, ``x:1``) were one id; with ``/``, the
    route found neither.
    """
    if "/" in name:
        raise InvalidQuery(field="name", reason=f"{name!r}: a model name may not hold '/'")
    for bad in (":", "/"):
        if bad in version:
            raise InvalidQuery(
                field="version", reason=f"{version!r}: a model version may not hold {bad!r}"
            )


def _require_write(principal: Principal | None, namespace: str) -> None:
    if principal is not None and not authorize(principal, "write", namespace):
        raise Forbidden(principal=principal.name, action="write", namespace=namespace)


def _model_namespace(
    model: Model | None, namespace: str | None, principal: Principal | None
) -> str:
    """The namespace governing a registration: the stored model's own, else the requested one.

    Raises:
        Forbidden: the caller may not write in that namespace (checked first, so a caller
            without the right learns nothing more).
        Conflict: the request names another namespace than the stored model's.

    """
    governing = model.namespace if model is not None else (namespace or NAMESPACE)
    _require_write(principal, governing)
    if model is not None and namespace is not None and namespace != model.namespace:
        raise Conflict(
            kind="model",
            key=model.name,
            reason=f"lives in namespace {model.namespace!r}, not {namespace!r}",
        )
    return governing


def _training_set(
    session: Session, version: str, training_set: str | None, principal: Principal | None
) -> Row[Any]:
    """Resolve a training-set version (of the named training set, if given) to its one row.

    Only training sets the caller may read count, so a hidden one is as unknown as a missing one.

    Raises:
        InvalidReference: no readable training set has this version, or several do.

    """
    dataset_id = None
    if training_set is not None:
        try:
            kind, key = resolve_node(session, training_set)
        except (InvalidQuery, NotFound):
            kind, key = "", None
        # Not a dataset: nothing matches (and the answer is the same as for a hidden one).
        dataset_id = key if kind == "dataset" else 0
    red = Redactor(principal)
    rows = [
        r
        for r in repo.training_set_versions(session, version, dataset_id)
        if red.visible(r.namespace)
    ]
    if not rows:
        where = f" of training set {training_set!r}" if training_set else ""
        raise InvalidReference(
            field="trainingSet" if training_set else "trainingSetVersion",
            reason=f"no training set version {version!r}{where} is recorded in lineage; "
            "emit the training set before registering a model on it",
        )
    if len(rows) > 1:
        names = ", ".join(f"dataset:{r.namespace}:{r.name}" for r in rows)
        raise InvalidReference(
            field="trainingSetVersion",
            reason=f"{version!r} is a version of several training sets ({names}); "
            "name one in trainingSet",
        )
    return rows[0]


def register_model(
    session: Session,
    name: str,
    version: str,
    training_set_version: str,
    metrics: Mapping[str, float],
    *,
    namespace: str | None = None,
    training_set: str | None = None,
    code_version: str | None = None,
    principal: Principal | None = None,
) -> RegisteredModel:
    """Record that model ``name`` at ``version`` was trained on ``training_set_version``.

    Registering the same version again with the same training set is a no-op.

    Args:
        session: An open session; the caller commits.
        name: The model name (unique across namespaces).
        version: The model version.
        training_set_version: The training-set version it was trained on.
        metrics: Evaluation metrics.
        namespace: The model's namespace; None means the stored model's (a new model: the
            default namespace).
        training_set: The training set's dataset id (``dataset:<ns>:training_set/<name>``),
            needed only when several training sets have ``training_set_version``.
        code_version: The code it was registered from (a git commit), if known.
        principal: The caller, who needs ``write`` on the model's namespace (None: in-process).

    Returns:
        The registered version and its link.

    Raises:
        Forbidden: the caller may not write in the model's namespace (the stored model's own).
        Conflict: another namespace than the stored model's, or this version is already
            registered with another training set.
        InvalidReference: the training-set version is unknown, or ambiguous.
        InvalidQuery: a name holding ``/``, or a version holding ``:`` or ``/``.

    """
    check_model_names(name, version)
    model = repo.find_model(session, name)
    governing = _model_namespace(model, namespace, principal)
    mv = None if model is None else repo.find_model_version(session, name, version)
    if mv is not None and mv.training_set_version != training_set_version:
        raise Conflict(kind="model_version", key=f"{name}:{version}")
    if mv is not None and training_set is None and mv.training_set_version_id is not None:
        return _registered(session, name, governing, mv)  # a repeat: no-op
    ts = _training_set(session, training_set_version, training_set, principal)
    now = datetime.now(UTC)
    if model is None:
        model, _ = repo.get_or_create(
            session, Model, {"name": name}, {"namespace": governing, "created_at": now}
        )
    mv, _ = repo.get_or_create(
        session,
        ModelVersion,
        {"model_id": model.id, "version": version},
        {
            "training_set_version": training_set_version,
            "training_set_version_id": ts.id,
            "metrics": {k: float(v) for k, v in metrics.items()},
            "created_at": now,
            "code_version": code_version,
        },
    )
    linked = mv.training_set_version_id
    if mv.training_set_version != training_set_version or linked not in (None, ts.id):
        raise Conflict(kind="model_version", key=f"{name}:{version}")
    mv.training_set_version_id = ts.id  # links a row registered before links existed
    session.flush()
    return _registered(session, name, model.namespace, mv)


def _registered(session: Session, name: str, namespace: str, mv: ModelVersion) -> RegisteredModel:
    link = None
    if mv.training_set_version_id is not None:
        dv = repo.dataset_versions_by_ids(session, [mv.training_set_version_id])
        row = dv[mv.training_set_version_id]
        link = version_id(row, row)
    return RegisteredModel(name, mv.version, namespace, mv.training_set_version, link)


def register_deployment(
    session: Session,
    model: str,
    version: str,
    environment: str,
    deployed_at: datetime | None = None,
    *,
    feature_service: str | None = None,
    principal: Principal | None = None,
) -> None:
    """Record that model ``model`` at ``version`` is deployed to ``environment`` (idempotent).

    Args:
        session: An open session; the caller commits.
        model: The model name.
        version: The model version.
        environment: Where it runs, e.g. ``production``.
        deployed_at: When (default: now).
        feature_service: The Feast feature service it reads online features from; its
            ``feature_service/<name>`` node (in the Skewless namespace, where ``skewless apply``
            records every feature service) must be in lineage, and the deployment links to it.
        principal: The caller, who needs ``write`` on the model's own namespace and ``read`` on
            the feature service's (None: in-process).

    Raises:
        NotFound: if the model version is not registered.
        Forbidden: the caller may not write in the model's namespace, or read the service's.
        InvalidReference: lineage holds no such feature service (or the name is malformed).
        Conflict: the deployment is already recorded with another feature service.

    """
    mv = repo.find_model_version(session, model, version)
    if mv is None:
        raise NotFound(kind="model_version", key=f"{model}:{version}")
    _require_write(principal, repo.model_versions_by_ids(session, [mv.id])[mv.id][1].namespace)
    service_id = (
        None if feature_service is None else _feature_service(session, feature_service, principal)
    )
    row, created = repo.get_or_create(
        session,
        Deployment,
        {"model_version_id": mv.id, "environment": environment},
        {
            "deployed_at": deployed_at or datetime.now(UTC),
            "feature_service": feature_service,
            "feature_service_id": service_id,
        },
    )
    if not created and feature_service is not None and row.feature_service != feature_service:
        if row.feature_service is not None:
            raise Conflict(kind="deployment", key=f"{model}:{version}@{environment}")
        row.feature_service = feature_service
    if service_id is not None:
        row.feature_service_id = service_id  # links a row recorded before links existed
    session.flush()


def _feature_service(session: Session, name: str, principal: Principal | None) -> int:
    """The dataset id of feature service ``name``'s node, which the caller must be able to read.

    Raises:
        Forbidden: the caller may not read the Skewless namespace (checked first, so a caller
            without the right does not learn which services exist).
        InvalidReference: a malformed name, or no such node.

    """
    if principal is not None and not authorize(principal, "read", NAMESPACE):
        raise Forbidden(principal=principal.name, action="read", namespace=NAMESPACE)
    try:
        dataset = feature_service_dataset(name)
    except ValueError as exc:
        raise InvalidReference(field="featureService", reason=str(exc)) from None
    found = history_sql.find_dataset(session, NAMESPACE, dataset)
    if found is None:
        raise InvalidReference(
            field="featureService",
            reason=f"lineage holds no feature service {name!r} ({NAMESPACE}:{dataset}): "
            "apply it first (`skewless apply` records every feature service)",
        )
    return found.id
