"""Encoding between Arrow/Python values and Feast's online format.

Keys, field names and value protos are produced with Feast's own functions, so
Feast's ``get_online_features`` reads exactly what we write and vice versa.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.helpers import _mmh3
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.type_map import feast_value_type_to_python_type, python_values_to_proto_values
from feast.value_type import ValueType
from google.protobuf.timestamp_pb2 import Timestamp

from services.contracts.base import ColumnSpec, Kind

ENTITY_KEY_SERIALIZATION_VERSION = 3

VALUE_TYPE: dict[Kind, ValueType] = {
    "int": ValueType.INT64,
    "float": ValueType.DOUBLE,
    "string": ValueType.STRING,
    "bool": ValueType.BOOL,
    "timestamp": ValueType.UNIX_TIMESTAMP,
}


def entity_key(join_key: str, value: int) -> EntityKeyProto:
    return EntityKeyProto(join_keys=[join_key], entity_values=[ValueProto(int64_val=value)])


def redis_key(project: str, join_key: str, value: int) -> bytes:
    """Feast's Redis hash key: serialized entity key followed by the project name."""
    key: bytes = serialize_entity_key(
        entity_key(join_key, value),
        entity_key_serialization_version=ENTITY_KEY_SERIALIZATION_VERSION,
    )
    return key + project.encode("utf-8")


def field_key(view: str, feature: str) -> bytes:
    return bytes(_mmh3(f"{view}:{feature}"))


def ts_key(view: str) -> str:
    return f"_ts:{view}"


def encode_column(column: pa.Array | pa.ChunkedArray, spec: ColumnSpec) -> list[ValueProto]:
    """Encode one Arrow column into value protos (nulls become empty protos)."""
    values = column.to_pylist()
    present = [v for v in values if v is not None]
    encoded = iter(python_values_to_proto_values(present, VALUE_TYPE[spec.kind]) if present else [])
    return [next(encoded) if v is not None else ValueProto() for v in values]


def encode_timestamp(moment: datetime) -> bytes:
    ts = Timestamp()
    ts.FromDatetime(moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC))
    raw: bytes = ts.SerializeToString()
    return raw


def decode_timestamp(raw: bytes | None) -> datetime | None:
    if not raw:
        return None
    ts = Timestamp()
    ts.ParseFromString(raw)
    moment: datetime = ts.ToDatetime(tzinfo=UTC)
    return moment


def decode_value(proto: ValueProto | None) -> Any:
    """A stored value proto as a plain Python value (None for null)."""
    if proto is None or proto.WhichOneof("val") is None:
        return None
    return feast_value_type_to_python_type(proto)


def decode_raw(raw: bytes | None) -> Any:
    if raw is None:
        return None
    proto = ValueProto()
    proto.ParseFromString(raw)
    return decode_value(proto)
