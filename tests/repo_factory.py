"""Generated feature repositories: drawn shapes, values of every type, and the repo's files.

A :class:`RepoShape` is what a property test draws: one or two entities (join keys Int32,
Int64 or String), one to five features of any type Skewless stores (scalars, arrays with
and without a fixed length, Map, Json, Struct), nullable or not, and a ttl.
:func:`write_repository` turns a shape into a complete repository, shaped like a user's:
``feature_store.yaml``, a Pandera contract module (``contracts.py``) and plain Feast
definitions (``definitions.py``) with an owner and a description on every object.
:func:`values` and :func:`key_values` are the hypothesis strategies for the data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from services.contracts.types import KEY_TYPES, SCALARS, FieldType

SOURCE = "generated_source"  # the source, its contract's Config.name and the view's name
SERVICE = "generated_service"
OWNER = "property-tests@skewless.example"
TTL_HOURS = (0, 12, 24, 84, 168)  # 0: no ttl; the rest are multiples of the tests' 12h grid
KEY_NAMES = ("user_id", "item_id", "zone", "a_key")  # drawn so the sorted key order varies
STRUCT_FIELDS = ("width", "label", "at", "flag")

INT32_RANGE = (-(2**31), 2**31 - 1)
INT64_RANGE = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class KeyShape:
    """One entity of the view and its single join key."""

    entity: str
    name: str
    type: FieldType
    # False: the entity declares no value_type (as `feast init`'s template does); the key's
    # type then comes from the source's contract.
    typed: bool = True


@dataclass(frozen=True)
class FeatureShape:
    name: str
    type: FieldType
    nullable: bool


@dataclass(frozen=True)
class RepoShape:
    """What a generated repository declares: one source, one view over it, one service."""

    keys: tuple[KeyShape, ...]
    features: tuple[FeatureShape, ...]
    ttl: timedelta
    served: tuple[int, ...] = ()  # the features the service selects, in its order; () for all

    @property
    def served_features(self) -> tuple[FeatureShape, ...]:
        return tuple(self.features[i] for i in self.served) if self.served else self.features

    def describe(self) -> str:
        keys = ", ".join(f"{k.name}: {k.type}{'' if k.typed else ' (untyped)'}" for k in self.keys)
        feats = ", ".join(
            f"{f.name}: {f.type}{'' if f.type.length is None else f'[{f.type.length}]'}"
            f"{'?' if f.nullable else ''}"
            for f in self.features
        )
        served = ", ".join(f.name for f in self.served_features)
        return f"keys ({keys}); features ({feats}); ttl {self.ttl}; served ({served})"


# ------------------------------------------------------------------------------ shapes
scalar_types = st.sampled_from([FieldType(name) for name in SCALARS])


@st.composite
def array_types(draw: st.DrawFn) -> FieldType:
    element = draw(scalar_types)
    length = draw(st.none() | st.integers(1, 3))
    return FieldType("Array", element=element, length=length)


@st.composite
def struct_types(draw: st.DrawFn) -> FieldType:
    names = draw(st.lists(st.sampled_from(STRUCT_FIELDS), min_size=1, max_size=3, unique=True))
    return FieldType("Struct", fields=tuple((n, draw(scalar_types)) for n in names))


field_types = st.one_of(
    scalar_types,
    array_types(),
    st.sampled_from([FieldType("Map"), FieldType("Json")]),
    struct_types(),
)


@st.composite
def repo_shapes(draw: st.DrawFn) -> RepoShape:
    """A repository shape: 1-2 keys, 1-5 features of any type, a ttl, the served features."""
    names = draw(st.lists(st.sampled_from(KEY_NAMES), min_size=1, max_size=2, unique=True))
    keys = tuple(
        KeyShape(
            entity=f"ent_{name}",
            name=name,
            type=FieldType(draw(st.sampled_from(KEY_TYPES))),
            typed=draw(st.booleans()),
        )
        for name in names
    )
    types = draw(st.lists(field_types, min_size=1, max_size=5))
    features = tuple(
        FeatureShape(name=f"f{i}", type=t, nullable=draw(st.booleans()))
        for i, t in enumerate(types)
    )
    ttl = timedelta(hours=draw(st.sampled_from(TTL_HOURS)))
    served = draw(
        st.just(())
        | st.permutations(range(len(features))).flatmap(
            lambda order: st.integers(1, len(order)).map(lambda n: tuple(order[:n]))
        )
    )
    return RepoShape(keys=keys, features=features, ttl=ttl, served=served)


# ------------------------------------------------------------------------------ values
def key_values(ftype: FieldType) -> st.SearchStrategy[Any]:
    """Join key values of a key type, edges of the integer ranges included."""
    if ftype.name == "Int32":
        return st.integers(*INT32_RANGE)
    if ftype.name == "Int64":
        return st.integers(*INT64_RANGE)
    return st.text(max_size=8)


_instants = st.datetimes(
    min_value=datetime(1950, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda moment: moment.replace(microsecond=0))  # Feast keeps instants online as seconds

_SCALAR_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "Int32": st.integers(*INT32_RANGE),
    "Int64": st.integers(*INT64_RANGE),
    "Float32": st.floats(width=32, allow_nan=False),
    "Float64": st.floats(allow_nan=False),
    "String": st.text(max_size=10),
    "Bytes": st.binary(max_size=10),
    "Bool": st.booleans(),
    "UnixTimestamp": _instants,
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(*INT64_RANGE)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)

# What a Map value may hold in Feast's format: scalars, nested maps and non-empty lists of one
# scalar kind (Feast cannot type an empty or mixed list and refuses it).
_map_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(*INT64_RANGE),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
)
_map_lists = st.one_of(
    st.lists(st.booleans(), min_size=1, max_size=3),
    st.lists(st.integers(*INT64_RANGE), min_size=1, max_size=3),
    st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=3),
    st.lists(st.text(max_size=4), min_size=1, max_size=3),
)
map_values = st.dictionaries(
    st.text(max_size=6),
    st.one_of(
        _map_scalars,
        _map_lists,
        st.dictionaries(st.text(max_size=4), _map_scalars, max_size=2),
    ),
    max_size=3,
)


def values(ftype: FieldType) -> st.SearchStrategy[Any]:
    """Non-null values of a feature type, as a producer hands them to ingestion.

    Scalars as Python values (Float32 ones representable in float32, instants whole-second
    aware UTC datetimes); arrays as lists without null elements (Feast cannot store them),
    of exactly the declared length when there is one; Map as a dict with text keys; Json
    as JSON text (how Feast stores it; a bare Python string would be read as JSON text);
    Struct as a dict holding every declared field (a field may be null).
    """
    if ftype.is_scalar:
        return _SCALAR_VALUES[ftype.name]
    if ftype.name == "Array":
        assert ftype.element is not None
        low, high = (ftype.length, ftype.length) if ftype.length is not None else (0, 3)
        return st.lists(_SCALAR_VALUES[ftype.element.name], min_size=low, max_size=high)
    if ftype.name == "Map":
        return map_values
    if ftype.name == "Json":
        return json_values.filter(lambda v: v is not None).map(json.dumps)
    return st.fixed_dictionaries(
        {name: st.none() | _SCALAR_VALUES[t.name] for name, t in ftype.fields}
    )


def feature_values(feature: FeatureShape) -> st.SearchStrategy[Any]:
    """A feature's values, None included when it is nullable."""
    strategy = values(feature.type)
    return st.none() | strategy if feature.nullable else strategy


# -------------------------------------------------------------------- repository files
_KEY_DTYPES = {"Int32": "np.int32", "Int64": "np.int64", "String": "str"}
_VALUE_TYPES = {"Int32": "INT32", "Int64": "INT64", "String": "STRING"}
# (not nullable, nullable) pandas dtypes of scalar features in the contract.
_FEATURE_DTYPES = {
    "Int32": ("np.int32", "pd.Int32Dtype"),
    "Int64": ("np.int64", "pd.Int64Dtype"),
    "Float32": ("np.float32", "np.float32"),
    "Float64": ("np.float64", "np.float64"),
    "String": ("str", "str"),
    "Bool": ("bool", "pd.BooleanDtype"),
    "UnixTimestamp": ("UtcTimestamp", "UtcTimestamp"),
}


def _feature_line(feature: FeatureShape) -> str:
    dtypes = _FEATURE_DTYPES.get(feature.type.name)
    metadata: dict[str, Any] = {"owner": OWNER}
    if dtypes is None:  # Bytes, arrays and documents: Pandera holds them as objects
        dtype = "object"
        metadata["type"] = str(feature.type)
        if feature.type.length is not None:
            metadata["length"] = feature.type.length
    else:
        dtype = dtypes[1] if feature.nullable else dtypes[0]
    return (
        f"    {feature.name}: Series[{dtype}] = pa.Field(\n"
        f"        nullable={feature.nullable},\n"
        f"        description={f'Generated {feature.type} feature.'!r},\n"
        f"        metadata={metadata!r},\n"
        "    )\n"
    )


def contract_module(shape: RepoShape) -> str:
    """The text of ``contracts.py``: one ``SourceContract`` for the generated source."""
    keys = "".join(
        f"    {k.name}: Series[{_KEY_DTYPES[k.type.name]}] = pa.Field(\n"
        f"        description={f'Join key of {k.entity}.'!r}, metadata={{'role': 'entity'}}\n"
        "    )\n"
        for k in shape.keys
    )
    features = "".join(_feature_line(f) for f in shape.features)
    ttl_hours = shape.ttl.total_seconds() / 3600
    return (
        '"""The generated source\'s contract (written by tests/repo_factory.py)."""\n\n'
        "import numpy as np\n"
        "import pandas as pd\n"
        "import pandera.pandas as pa\n"
        "from pandera.typing import Series\n\n"
        "from services.contracts import SourceContract, UtcTimestamp\n\n"
        f"OWNER = {OWNER!r}\n\n\n"
        "class GeneratedSource(SourceContract):\n"
        '    """Rows of the generated source."""\n\n'
        f"{keys}"
        "    event_timestamp: Series[UtcTimestamp] = pa.Field(\n"
        "        description='Event time (UTC).', metadata={'role': 'event_timestamp'}\n"
        "    )\n"
        "    created_timestamp: Series[UtcTimestamp] = pa.Field(\n"
        "        description='When the row was computed.', metadata={'role': 'created_timestamp'}\n"
        "    )\n"
        f"{features}\n"
        "    class Config:\n"
        f"        name = {SOURCE!r}\n"
        "        description = 'A source generated by a property test.'\n"
        "        metadata = {\n"
        "            'owner': OWNER,\n"
        f"            'ttl_hours': {ttl_hours!r},\n"
        "            'cadence_hours': 24,\n"
        "            'default_policy': 'reject',\n"
        "        }\n"
    )


def definitions_module(shape: RepoShape, offline_dir: Path) -> str:
    """The text of ``definitions.py``: entities, the source, the view and one service."""
    entities = "".join(
        f"{k.entity} = Entity(\n"
        f"    name={k.entity!r},\n"
        f"    join_keys=[{k.name!r}],\n"
        + (f"    value_type=ValueType.{_VALUE_TYPES[k.type.name]},\n" if k.typed else "")
        + "    owner=OWNER,\n"
        f"    description={f'A generated entity keyed by {k.type} {k.name}.'!r},\n"
        ")\n\n"
        for k in shape.keys
    )
    entity_list = ", ".join(k.entity for k in shape.keys)
    selected = f"view[{[f.name for f in shape.served_features]!r}]" if shape.served else "view"
    return (
        '"""The generated Feast definitions (written by tests/repo_factory.py)."""\n\n'
        "from datetime import timedelta\n"
        "from pathlib import Path\n\n"
        "from contracts import OWNER, GeneratedSource\n"
        "from feast import Entity, FeatureService, FeatureView, ValueType\n\n"
        "from services.contracts.feast_objects import contract_source\n"
        "from services.contracts.schema import feast_fields, schema_fingerprint\n\n"
        f"{entities}"
        f"source = contract_source(GeneratedSource, Path({str(offline_dir)!r}))\n\n"
        "view = FeatureView(\n"
        f"    name={SOURCE!r},\n"
        f"    entities=[{entity_list}],\n"
        f"    ttl=timedelta(seconds={int(shape.ttl.total_seconds())}),\n"
        "    schema=feast_fields(GeneratedSource),\n"
        "    source=source,\n"
        "    online=True,\n"
        "    owner=OWNER,\n"
        "    description='The generated view: every feature of the generated source.',\n"
        "    tags={\n"
        f"        'contract': {SOURCE!r},\n"
        "        'schema': schema_fingerprint(GeneratedSource),\n"
        "        'freshness_slo_seconds': str(2 * 24 * 3600),\n"
        "    },\n"
        ")\n\n"
        "service = FeatureService(\n"
        f"    name={SERVICE!r},\n"
        f"    features=[{selected}],\n"
        "    owner=OWNER,\n"
        "    description='Every generated feature.',\n"
        ")\n"
    )


def feature_store_yaml(project: str, data_dir: Path, online_store: str, redis_url: str) -> str:
    """The repository's ``feature_store.yaml``, agreeing with the test's settings."""
    if online_store == "redis":
        host_port, _, db = redis_url.removeprefix("redis://").partition("/")
        online = f"  type: redis\n  connection_string: {host_port},db={db or '0'}\n"
    else:
        online = f"  type: sqlite\n  path: {data_dir.resolve() / 'online.db'}\n"
    return (
        f"project: {project}\n"
        "provider: local\n"
        "registry:\n"
        "  registry_type: sql\n"
        f"  path: sqlite:///{data_dir.resolve() / 'registry.db'}\n"
        "online_store:\n"
        f"{online}"
        "offline_store:\n"
        "  type: file\n"
        "entity_key_serialization_version: 3\n"
    )


def write_repository(
    shape: RepoShape,
    repo: Path,
    *,
    project: str,
    data_dir: Path,
    online_store: str = "sqlite",
    redis_url: str = "redis://127.0.0.1:6379/0",
) -> Path:
    """Write a complete repository for ``shape`` into ``repo``; return ``repo``."""
    repo.mkdir(parents=True, exist_ok=True)
    (repo / "feature_store.yaml").write_text(
        feature_store_yaml(project, data_dir, online_store, redis_url)
    )
    (repo / "contracts.py").write_text(contract_module(shape))
    offline = data_dir / "offline" / project  # the project's folder (services.data_layout)
    (repo / "definitions.py").write_text(definitions_module(shape, offline))
    return repo


__all__ = [
    "OWNER",
    "SERVICE",
    "SOURCE",
    "FeatureShape",
    "KeyShape",
    "RepoShape",
    "feature_values",
    "field_types",
    "key_values",
    "repo_shapes",
    "values",
    "write_repository",
]
