"""Feast's online ``Value`` message and its Python values, without importing the ``feast`` package.

Importing any ``feast`` module imports the whole package (3.4 s); reading a stored value needs
only the generated ``Value_pb2`` module. :func:`value_class` returns Feast's own module's class
when Feast is already loaded, and otherwise executes that generated file (by its path in the
installed Feast) under a private name. Both register the same serialized descriptor in
protobuf's default pool, which accepts an identical file twice and, with the ``upb`` backend
this project locks, hands both the same message class: protos of either kind mix freely.

:func:`python_value_of` is Feast's ``feast_value_type_to_python_type`` for every value kind
Skewless writes (scalars, their lists, Map, Json, Struct); other kinds (sets, scalar maps,
zoned timestamps, UUIDs, decimals) go to Feast's function itself, imported then.
``tests/unit/test_value_proto.py`` checks the two agree on every type.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

FEAST_MODULE = "feast.protos.feast.types.Value_pb2"
_PRIVATE_MODULE = "_skewless_feast_value_pb2"
NULL_TIMESTAMP = -(2**63)  # Feast's NULL_TIMESTAMP_INT_VALUE (NaT as int64)
_OWN_KINDS = frozenset(
    {
        "bytes_val", "string_val", "int32_val", "int64_val", "double_val", "float_val",
        "bool_val", "unix_timestamp_val", "bytes_list_val", "string_list_val",
        "int32_list_val", "int64_list_val", "double_list_val", "float_list_val",
        "bool_list_val", "unix_timestamp_list_val", "map_val", "map_list_val", "json_val",
        "json_list_val", "struct_val", "struct_list_val", "list_val", "null_val",
    }
)  # fmt: skip


@cache
def value_class() -> Any:
    """Feast's ``feast.types.Value`` message class."""
    module = sys.modules.get(FEAST_MODULE) or sys.modules.get(_PRIVATE_MODULE)
    if module is None:
        feast = importlib.util.find_spec("feast")  # finds the package without importing it
        if feast is None or feast.origin is None:  # pragma: no cover - Feast is a dependency
            raise ImportError("the feast package is not installed")
        path = Path(feast.origin).parent / "protos" / "feast" / "types" / "Value_pb2.py"
        spec = importlib.util.spec_from_file_location(_PRIVATE_MODULE, path)
        if spec is None or spec.loader is None:  # pragma: no cover
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[_PRIVATE_MODULE] = module
        spec.loader.exec_module(module)
    return module.Value


def parse_value(raw: bytes) -> Any:
    """A serialized ``Value`` as a message."""
    return value_class().FromString(raw)


def _instant(seconds: int) -> datetime | None:
    return None if seconds == NULL_TIMESTAMP else datetime.fromtimestamp(seconds, tz=UTC)


def python_value_of(proto: Any) -> Any:
    """A ``Value`` message as Feast's ``feast_value_type_to_python_type`` returns it."""
    kind = proto.WhichOneof("val")
    if kind is None:
        return None
    if kind not in _OWN_KINDS:
        from feast.type_map import feast_value_type_to_python_type

        return feast_value_type_to_python_type(proto)
    val = getattr(proto, kind)
    if kind == "json_val":
        return _json(val)
    if kind == "json_list_val":
        return [_json(v) if isinstance(v, str) else v for v in val.val]
    if kind == "list_val":
        return [python_value_of(v) for v in val.val]
    if kind in ("map_val", "struct_val"):
        return {k: python_value_of(v) for k, v in val.val.items()}
    if kind in ("map_list_val", "struct_list_val"):
        return [{k: python_value_of(v) for k, v in m.val.items()} for m in val.val]
    if kind == "unix_timestamp_val":
        return _instant(val)
    if kind == "unix_timestamp_list_val":
        return [_instant(v) for v in val.val]
    if hasattr(val, "val"):
        return list(val.val)
    return val


def _json(text: Any) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return text
