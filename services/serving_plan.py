"""The serving plan: each feature service's resolved reads, written at apply, read without Feast.

Resolving a service (:func:`services.resolution.plan_service`) needs the Feast registry and
the repository's code, and importing Feast alone takes seconds: too slow for one
``skewless online`` call. So ``skewless apply`` (and the full read path, when it finds the
plan missing or stale) writes every service's :class:`ServicePlan` to
``<data dir>/serving_plan.<project>.json``: views, features and their types, join keys, ttls,
request fields, and each on-demand view's function pickled by value (cloudpickle, the
repository's own modules included, so loading it imports neither the repository's Feast
definitions nor its contracts; the trust is that of Feast's registry, which stores pickled
functions too).

The plan is stamped with a fingerprint of what it was built from: the project's rows in
Feast's registry and the repository's files (:mod:`services.plan_stamp`). A plan whose stamp
differs from the current one is stale and never used: the caller takes the full path, so the
plan can be slower to use but never gives another answer than resolving afresh would.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, replace
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from services.contracts.specs import ColumnSpec
from services.contracts.types import FieldType
from services.errors import UnknownFeatureServiceError
from services.plan_stamp import current_stamp
from services.reads import KeyRead, OnDemandCode, OnDemandRead, ServicePlan, ViewRead
from services.settings import Settings

if TYPE_CHECKING:
    from services.store import Store

# Bump when what a plan holds, or how resolution fills it, changes: older plans then read as
# stale instead of as another answer.
FORMAT = 1


def plan_path(settings: Settings) -> Path:
    """Where the project's serving plan lives: the data dir, beside the online store."""
    return settings.data_dir / f"serving_plan.{settings.project}.json"


# --- plain values <-> JSON ---------------------------------------------------------------


def _type_json(ftype: FieldType) -> dict[str, Any]:
    out: dict[str, Any] = {"name": ftype.name}
    if ftype.element is not None:
        out["element"] = _type_json(ftype.element)
    if ftype.length is not None:
        out["length"] = ftype.length
    if ftype.fields:
        out["fields"] = [[name, _type_json(t)] for name, t in ftype.fields]
    return out


def _type_of(data: dict[str, Any]) -> FieldType:
    return FieldType(
        data["name"],
        element=_type_of(data["element"]) if "element" in data else None,
        length=data.get("length"),
        fields=tuple((name, _type_of(t)) for name, t in data.get("fields", [])),
    )


def _spec_json(spec: ColumnSpec) -> dict[str, Any]:
    out = asdict(spec)
    out["type"] = _type_json(spec.type)
    if spec.allowed is not None:
        out["allowed"] = list(spec.allowed)
    return out


def _spec_of(data: dict[str, Any]) -> ColumnSpec:
    allowed = data["allowed"]
    return ColumnSpec(
        **{
            **data,
            "type": _type_of(data["type"]),
            "allowed": None if allowed is None else tuple(allowed),
        }
    )


def _view_json(read: ViewRead) -> dict[str, Any]:
    return {
        "view": read.view,
        "alias": read.alias,
        "source": read.source,
        "keys": [
            {"name": k.name, "type": _type_json(k.type), "column": k.column} for k in read.keys
        ],
        "ttl_us": read.ttl // timedelta(microseconds=1),
        "features": [_spec_json(f) for f in read.features],
        "event_ts": read.event_ts,
        "created_ts": read.created_ts,
    }


def _view_of(data: dict[str, Any]) -> ViewRead:
    return ViewRead(
        view=data["view"],
        alias=data["alias"],
        source=data["source"],
        keys=tuple(KeyRead(k["name"], _type_of(k["type"]), k["column"]) for k in data["keys"]),
        ttl=timedelta(microseconds=data["ttl_us"]),
        features=tuple(_spec_of(f) for f in data["features"]),
        event_ts=data["event_ts"],
        created_ts=data["created_ts"],
    )


def _on_demand_json(read: OnDemandRead, modules: list[ModuleType]) -> dict[str, Any]:
    return {
        "view": read.view,
        "alias": read.alias,
        "mode": read.code.mode,
        "singleton": read.code.singleton,
        "function": base64.b64encode(_pickled(read.code.function, modules)).decode("ascii"),
        "inputs": [_view_json(r) for r in read.inputs],
        "request_fields": [_spec_json(s) for s in read.request_fields],
        "outputs": [_spec_json(s) for s in read.outputs],
        "features": [_spec_json(s) for s in read.features],
    }


def _on_demand_of(data: dict[str, Any]) -> OnDemandRead:
    import cloudpickle

    function = cloudpickle.loads(base64.b64decode(data["function"]))
    return OnDemandRead(
        view=data["view"],
        alias=data["alias"],
        code=OnDemandCode(function=function, mode=data["mode"], singleton=data["singleton"]),
        inputs=tuple(_view_of(r) for r in data["inputs"]),
        request_fields=tuple(_spec_of(s) for s in data["request_fields"]),
        outputs=tuple(_spec_of(s) for s in data["outputs"]),
        features=tuple(_spec_of(s) for s in data["features"]),
    )


def plan_json(plan: ServicePlan, modules: list[ModuleType]) -> dict[str, Any]:
    """A service plan as JSON values (on-demand functions pickled, ``modules`` by value)."""
    return {
        "name": plan.name,
        "views": [_view_json(v) for v in plan.views],
        "on_demand": [_on_demand_json(o, modules) for o in plan.on_demand],
    }


def plan_of(data: dict[str, Any]) -> ServicePlan:
    """The service plan :func:`plan_json` wrote."""
    return ServicePlan(
        name=data["name"],
        views=tuple(_view_of(v) for v in data["views"]),
        on_demand=tuple(_on_demand_of(o) for o in data["on_demand"]),
    )


def _without_code(plan: ServicePlan) -> ServicePlan:
    """The plan with on-demand functions left out (a loaded function is a new object)."""
    blank = OnDemandCode(function=len, mode="", singleton=False)
    on_demand = tuple(replace(o, code=replace(blank, mode=o.code.mode)) for o in plan.on_demand)
    return replace(plan, on_demand=on_demand)


# --- on-demand functions, by value -------------------------------------------------------


@contextmanager
def _by_value(modules: list[ModuleType]) -> Iterator[None]:
    """Have cloudpickle copy the repository's own modules' code instead of naming them.

    The repository's modules are imported under plain names and then taken out of
    ``sys.modules`` (:func:`services.store.load_repo_objects`); cloudpickle registers a module
    only while it is there, so each is put back for the duration of the pickling.
    """
    import cloudpickle

    added = [m for m in modules if sys.modules.get(m.__name__) is None]
    for module in added:
        sys.modules[module.__name__] = module
    registered = []
    try:
        for module in modules:
            with suppress(ValueError):  # already registered, or a module of another name
                cloudpickle.register_pickle_by_value(module)
                registered.append(module)
        yield
    finally:
        for module in registered:
            with suppress(ValueError):
                cloudpickle.unregister_pickle_by_value(module)
        for module in added:
            sys.modules.pop(module.__name__, None)


def _pickled(function: Any, modules: list[ModuleType]) -> bytes:
    import cloudpickle

    with _by_value(modules):
        data: bytes = cloudpickle.dumps(function)
    return data


# --- writing and reading ----------------------------------------------------------------


def write_serving_plan(store: Store, stamp: dict[str, str] | None = None) -> Path | None:
    """Resolve every feature service of the project and write the plan file.

    ``stamp`` is the fingerprint taken *before* the registry and repository were read (the
    caller's, when it read them earlier); a change in between then only makes the plan stale.
    A service that cannot be planned (its resolution fails, its function cannot be pickled, or
    its plan does not survive the round trip unchanged) is listed as skipped: it is served by
    the full path, which reports its error as it always does. Returns the file written, or
    None when the registry cannot be fingerprinted.
    """
    from services.resolution import plan_service

    settings = store.settings
    stamp = stamp or current_stamp(settings)
    if stamp is None:  # no registry fingerprint: no plan could ever be found current
        return None
    modules = list(store.repository.modules.values())
    services: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for name in sorted(store.services):
        try:
            plan = plan_service(store, name)
            data = plan_json(plan, modules)
            text = json.dumps(data)
            if _without_code(plan_of(json.loads(text))) != _without_code(plan):
                raise ValueError("the plan does not survive JSON unchanged")
            services[name] = data
        except Exception as exc:  # planned or not, the full path still serves it
            skipped[name] = repr(exc)
    document = {
        "format": FORMAT,
        "project": settings.project,
        "stamp": stamp,
        "services": services,
        "skipped": skipped,
    }
    path = plan_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(document, out)
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def load_service_plan(settings: Settings, service: str) -> ServicePlan | None:
    """The service's plan if the plan file is current; None means: resolve it the full way.

    Raises:
        UnknownFeatureServiceError: the current plan knows every service, and not this one.

    """
    try:
        document = json.loads(plan_path(settings).read_text())
    except (OSError, ValueError):
        return None
    if (
        not isinstance(document, dict)
        or document.get("format") != FORMAT
        or document.get("project") != settings.project
        or document.get("stamp") is None
        or document.get("stamp") != current_stamp(settings)
    ):
        return None
    data = document["services"].get(service)
    if data is None:
        if service in document["skipped"]:
            return None
        raise UnknownFeatureServiceError(service)
    try:
        return plan_of(data)
    except Exception:  # e.g. a function that no longer unpickles here: resolve it afresh
        return None
