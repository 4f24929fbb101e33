"""A repository's own ``feature_store.yaml``, as Skewless reads it.

Precedence, highest first: a setting given explicitly (a ``SKEWLESS_*`` or ``REDIS_URL``
variable, ``.env``, or a ``Settings(...)`` argument); then the repository's
``feature_store.yaml`` (``project``, ``registry``, ``online_store``); then Skewless's
defaults. A value naming a ``${VAR}`` that is not set is left to the default, so one yaml
serves Feast's CLI (with the variables exported) and Skewless (without).
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from services.errors import InputError

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand(value: Any) -> str | None:
    """``value`` with ``${VAR}`` expanded; None when a variable is unset or it is no text."""
    if not isinstance(value, str):
        return None
    names = _VAR.findall(value)
    if any(os.environ.get(n) in (None, "") for n in names):
        return None
    return _VAR.sub(lambda m: os.environ[m.group(1)], value)


def _resolve(path: str, repo: Path) -> str:
    return str(path if Path(path).is_absolute() else (repo / path).resolve())


def _registry(raw: Any, repo: Path) -> str | None:
    if isinstance(raw, dict):
        path = _expand(raw.get("path"))
        if path is None:
            return None
        return path if "://" in path else _resolve(path, repo)
    path = _expand(raw)
    return None if path is None else path if "://" in path else _resolve(path, repo)


def _redis_url(connection: str) -> str:
    """Feast's ``host:port,db=N,password=P,ssl=true`` as a ``redis://`` URL."""
    first, *options = [part.strip() for part in connection.split(",")]
    opts = dict(o.split("=", 1) for o in options if "=" in o)
    scheme = "rediss" if opts.get("ssl", "").lower() == "true" else "redis"
    auth = f":{opts['password']}@" if opts.get("password") else ""
    return f"{scheme}://{auth}{first}/{opts.get('db', '0')}"


# Feast's ``type`` may also be a class path (it accepts the SQLite one; its Redis config refuses
# anything but "redis").
_ONLINE_CLASSES = {"feast.infra.online_stores.sqlite.SqliteOnlineStore": "sqlite"}


def _online(raw: Any, repo: Path) -> dict[str, Any]:
    if isinstance(raw, str):  # Feast's shorthand: the type alone ("sqlite"); "none": no store
        raw = {} if raw.lower() in {"none", "null"} else {"type": raw}
    if not isinstance(raw, dict):
        return {}
    kind = raw.get("type", "sqlite")  # Feast's default when the type is left out
    kind = _ONLINE_CLASSES.get(kind, kind)
    if kind == "sqlite":
        path = _expand(raw.get("path"))
        return {"online_store": "sqlite", **({"online_path": _resolve(path, repo)} if path else {})}
    if kind == "redis" and raw.get("redis_type") == "redis_cluster":
        out: dict[str, Any] = {"online_store": "redis_cluster"}
        connection = _expand(raw.get("connection_string"))
        if connection:  # Feast's "host:port,host:port" (options after them are not nodes)
            nodes = [p.strip() for p in connection.split(",") if "=" not in p and p.strip()]
            out["redis_cluster_nodes"] = ",".join(nodes)
        return out
    if kind == "redis":
        out = {"online_store": "redis"}
        connection = _expand(raw.get("connection_string"))
        if connection:
            out["redis_url"] = _redis_url(connection)
        return out
    raise InputError(
        f"{repo / 'feature_store.yaml'}: online_store type {kind!r} is not supported "
        "(sqlite, or redis with redis_type redis or redis_cluster); SKEWLESS_ONLINE_STORE "
        "chooses one instead"
    )


def _offline(raw: Any, repo: Path) -> dict[str, Any]:
    """The offline engine Feast's ``offline_store`` names (spark or duckdb; others: default)."""
    if not isinstance(raw, dict):
        return {}
    kind = raw.get("type")
    if kind == "duckdb":
        return {"offline_engine": "duckdb"}
    if kind != "spark":
        return {}
    conf = raw.get("spark_conf") or {}
    if not isinstance(conf, dict):
        raise InputError(
            f"{repo / 'feature_store.yaml'}: offline_store.spark_conf must be a mapping"
        )
    conf = {str(k): str(_expand(v) if isinstance(v, str) else v) for k, v in conf.items()}
    out: dict[str, Any] = {"offline_engine": "spark"}
    master = conf.pop("spark.master", None)
    if master:
        out["spark_master"] = master
    if conf:
        out["spark_conf"] = conf
    return out


def _yaml_error(path: Path, exc: yaml.MarkedYAMLError) -> str:
    """The parser's complaint on one line: where it stopped, and what it was reading."""

    def at(mark: Any) -> str:
        return f"line {mark.line + 1}, column {mark.column + 1}"

    mark = exc.problem_mark or exc.context_mark
    where = f"{path}: {at(mark)}" if mark else str(path)
    reason = exc.problem or exc.context or "unparseable"
    if exc.context and exc.problem and exc.context_mark:
        reason += f" ({exc.context} from {at(exc.context_mark)})"
    return f"{where}: not valid YAML: {reason}"


def yaml_settings(repo: Path, given: Collection[str] = ()) -> dict[str, Any]:
    """The settings a repository's ``feature_store.yaml`` gives (empty without one).

    An online store Skewless cannot use is no error when ``online_store`` is ``given``
    explicitly (``SKEWLESS_ONLINE_STORE`` chooses another).
    """
    path = repo / "feature_store.yaml"
    if not path.is_file():
        return {}
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.MarkedYAMLError as exc:  # its text runs over lines, quoting the source
        raise InputError(_yaml_error(path, exc)) from None
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as exc:
        reason = " ".join(str(exc).split())
        raise InputError(f"{path}: not readable YAML ({reason})") from None
    if not isinstance(raw, dict):
        raise InputError(f"{path}: expected a mapping of Feast settings")
    out: dict[str, Any] = {}
    project = _expand(raw.get("project"))
    if project:
        out["project"] = project
    if raw.get("registry") is not None:
        registry = _registry(raw["registry"], repo)
        if registry:
            out["registry_url"] = registry
    try:
        out.update(_online(raw.get("online_store"), repo))
    except InputError:
        if "online_store" not in given:
            raise
    out.update(_offline(raw.get("offline_store"), repo))
    return out


# The feature_store.yaml key behind each setting it fills.
_YAML_KEYS = {
    "project": "project",
    "registry_url": "registry",
    "online_store": "online_store",
    "online_path": "online_store.path",
    "redis_url": "online_store.connection_string",
    "redis_cluster_nodes": "online_store.connection_string",
    "offline_engine": "offline_store",
    "spark_master": "offline_store.spark_conf",
    "spark_conf": "offline_store.spark_conf",
}


def yaml_problem(repo: Path, exc: ValidationError, from_yaml: Collection[str]) -> str | None:
    """One line naming the yaml key whose value the settings refused; None if none was."""
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        if field in from_yaml:
            message = str(error["msg"]).removeprefix("Value error, ")
            return f"{repo / 'feature_store.yaml'}: {_YAML_KEYS.get(field, field)}: {message}"
    return None
