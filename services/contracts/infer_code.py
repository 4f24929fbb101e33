"""An inferred contract, and its rendering as a ``<source>_contract.py`` module.

Owns :class:`InferredSource` and :class:`InferredColumn` (what ``skewless contracts infer``
learnt of a source, see :mod:`services.contracts.infer`) and the text of the module written
for it: a ``SourceContract`` subclass with one ``pa.Field`` per column and a ``Config``. The
text is deterministic (no dates, no absolute paths) and already as ``ruff format`` leaves it.
"""

from __future__ import annotations

import json
import keyword
import textwrap
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from services.contracts.base import Role, SourceContract
from services.contracts.types import FieldType


@dataclass
class InferredColumn:
    """One column of an inferred contract, before it is written as code."""

    name: str
    type: FieldType
    role: Role
    description: str = ""
    owner: str = ""
    pii: bool = False
    classification: str = ""
    nullable: bool | None = None  # None: no sample said; decided by role
    ge: float | None = None
    le: float | None = None
    element_ge: float | None = None
    element_le: float | None = None
    length: int | None = None
    naive_utc: bool = False  # the sample's times carry no zone: read as UTC, as Feast does
    origin: str = ""  # the view that declared it, for conflict messages


@dataclass
class InferredSource:
    """One source's inferred contract: source-level facts and its columns in order."""

    name: str
    request: bool
    description: str
    owner: str
    readers: list[str] = field(default_factory=list)
    keys: dict[str, InferredColumn] = field(default_factory=dict)
    timestamps: list[InferredColumn] = field(default_factory=list)
    features: dict[str, InferredColumn] = field(default_factory=dict)
    ttls: set[timedelta] = field(default_factory=set)
    sample: str = ""
    sample_rows: int = 0

    @property
    def columns(self) -> list[InferredColumn]:
        return [*self.keys.values(), *self.timestamps, *self.features.values()]


_WIDTH = 100
# Contract dtypes of the scalar types: (not nullable, nullable); anything else is ``object``.
_DTYPES = {
    "Int32": ("np.int32", "pd.Int32Dtype"),
    "Int64": ("int", "pd.Int64Dtype"),
    "Float32": ("np.float32", "np.float32"),
    "Float64": ("float", "float"),
    "String": ("str", "str"),
    "Bool": ("bool", "pd.BooleanDtype"),
    "UnixTimestamp": ("UtcTimestamp", "UtcTimestamp"),
}


def _class_name(source: str) -> str:
    """The contract class of a source: its name in CamelCase (``user_stats`` -> ``UserStats``)."""
    words = "".join(ch if ch.isalnum() else " " for ch in source).split()
    name = "".join(w[:1].upper() + w[1:] for w in words) or "Source"
    return name if name[0].isalpha() else f"Source{name}"


def _quote(text: str) -> str:
    # The quotes ruff format would choose, so the generated module is format-clean.
    if '"' in text and "'" not in text:
        return repr(text)
    return json.dumps(text, ensure_ascii=False)


def _string(text: str, indent: int) -> str:
    """A string literal, split into parenthesised pieces if it would pass the line width."""
    if indent + len(_quote(text)) + len("description=,") <= _WIDTH:
        return _quote(text)
    pieces, line = [], ""
    for word in text.split(" "):
        if line and indent + 4 + len(_quote(f"{line}{word} ")) > _WIDTH:
            pieces.append(line)
            line = ""
        line += f"{word} "
    pieces.append(line[:-1])
    inner = "".join(f"{' ' * (indent + 4)}{_quote(p)}\n" for p in pieces)
    return f"(\n{inner}{' ' * indent})"


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, int | float):
        return repr(int(value)) if isinstance(value, int) else repr(float(value))
    return _quote(str(value))


def _mapping(items: dict[str, Any], indent: int, prefix: str) -> str:
    pairs = [f"{_quote(k)}: {_literal(v)}" for k, v in items.items()]
    if indent + len(prefix) + len(", ".join(pairs)) + 3 <= _WIDTH:
        return "{" + ", ".join(pairs) + "}"
    return "{\n" + "".join(f"{' ' * (indent + 4)}{p},\n" for p in pairs) + " " * indent + "}"


def _attribute(name: str, taken: set[str]) -> tuple[str, bool]:
    """A class attribute for a column, and whether the column needs an ``alias``."""
    if (
        name.isidentifier()
        and not keyword.iskeyword(name)
        and name == name.lower()
        and not (name.startswith("_") or hasattr(SourceContract, name))
    ):
        return name, False
    attr = "col_" + "".join(ch if ch.isalnum() else "_" for ch in name.lower())
    while attr in taken:
        attr += "_"
    return attr, True


def _column_metadata(column: InferredColumn) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if column.type.name not in _DTYPES:
        meta["type"] = str(column.type)
        for key in ("length", "element_ge", "element_le"):
            if getattr(column, key) is not None:
                meta[key] = getattr(column, key)
    if column.role != "feature":
        meta["role"] = column.role
    meta["owner"] = column.owner
    if column.pii:
        meta["pii"] = True
    if column.classification:
        meta["classification"] = column.classification
    if column.naive_utc:
        meta["naive"] = "UTC"
    return meta


def _render_column(column: InferredColumn, attr: str, alias: bool) -> list[str]:
    if column.nullable is None:
        column.nullable = column.role in ("feature", "request")
    dtype = _DTYPES.get(column.type.name, ("object", "object"))[column.nullable]
    args = [f"alias={_quote(column.name)}"] if alias else []
    args += [
        f"{k}={_literal(v)}" for k, v in (("ge", column.ge), ("le", column.le)) if v is not None
    ]
    args.append(f"nullable={column.nullable}")
    args.append(f"description={_string(column.description, 8)}")
    args.append(f"metadata={_mapping(_column_metadata(column), 8, 'metadata=')}")
    return [
        f"    {attr}: Series[{dtype}] = pa.Field(",
        *(f"        {arg}," for arg in args),
        "    )",
    ]


def _docstring(source: InferredSource) -> str:
    kind = "on-demand views" if source.request else "views"
    readers = (
        f"the {kind} reading it ({', '.join(source.readers)})" if source.readers else "no view"
    )
    sample = (
        f"the sample {source.sample} ({source.sample_rows} rows)" if source.sample else "no sample"
    )
    body = textwrap.fill(
        f"Generated from the Feast definitions of the source and of {readers}, and {sample}. "
        "Nullability and ranges are what the sample showed; an empty description or owner was "
        "unknown, and `skewless apply` names each one. Review, then edit as any other module.",
        width=_WIDTH - 4,
    )
    title = f"Contract of the ``{source.name}`` source, generated by ``skewless contracts infer``."
    return f'"""{title}\n\n{body.replace(chr(92), "/")}\n"""'


def _render_config(source: InferredSource) -> list[str]:
    meta: dict[str, Any] = {"owner": source.owner}
    if source.request:
        meta["request"] = True
    else:
        meta["default_policy"] = "quarantine"
        meta["cadence_hours"] = 24
        if len(source.ttls) == 1 and (ttl := next(iter(source.ttls))) > timedelta(0):
            hours = ttl / timedelta(hours=1)
            meta["ttl_hours"] = int(hours) if hours.is_integer() else hours
    return [
        "    class Config:",
        f"        name = {_quote(source.name)}",
        f"        description = {_string(source.description, 8)}",
        *(
            []
            if source.request
            else ["        # cadence_hours is assumed: how often a batch lands."]
        ),
        f"        metadata = {_mapping(meta, 8, 'metadata = ')}",
    ]


def render_module(source: InferredSource) -> str:
    """The text of the ``<source>_contract.py`` module for an inferred source."""
    attrs: set[str] = set()
    body: list[str] = []
    for column in source.columns:
        attr, alias = _attribute(column.name, attrs)
        attrs.add(attr)
        body += _render_column(column, attr, alias)
    text = "\n".join(body)
    imports = [
        *(["import numpy as np"] if "Series[np." in text else []),
        *(["import pandas as pd"] if "Series[pd." in text else []),
        "import pandera.pandas as pa",
        "from pandera.typing import Series",
        "",
        "from services.contracts import SourceContract"
        + (", UtcTimestamp" if "UtcTimestamp" in text else ""),
    ]
    lines = [
        _docstring(source),
        "",
        *imports,
        "",
        "",
        f"class {_class_name(source.name)}(SourceContract):",
        f'    """Contract of the ``{source.name}`` source."""',
        "",
        *body,
        "",
        *_render_config(source),
    ]
    return "\n".join(lines) + "\n"
