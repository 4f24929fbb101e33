"""Run a repository's on-demand transforms, the same way for training sets and serving.

Both paths hand the transform the same input: a pandas frame (pandas mode) or a dict of
lists (python mode) holding each input feature under its own name and its
``view__feature`` name (as Feast does), the request data and the join keys, each column in
its declared dtype. Outputs are brought to their declared types in one place, so the
online answer and the training frame cannot differ in representation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from services.contracts.specs import ColumnSpec, output_dtype
from services.errors import RequestError
from services.online.values import canonical
from services.reads import OnDemandRead


def input_columns(
    odfv: OnDemandRead, columns: Mapping[tuple[str, str], Sequence[Any]]
) -> dict[str, tuple[ColumnSpec | None, Sequence[Any]]]:
    """The transform's named inputs, from (view alias, feature) -> values of the inputs."""
    out: dict[str, tuple[ColumnSpec | None, Sequence[Any]]] = {}
    for read in odfv.inputs:
        for spec in read.features:
            values = columns[(read.alias, spec.name)]
            out.setdefault(spec.name, (spec, values))
            out[f"{read.alias}__{spec.name}"] = (spec, values)
    return out


def run_on_demand(
    odfv: OnDemandRead,
    inputs: Mapping[str, tuple[ColumnSpec | None, Sequence[Any]]],
    rows: int,
) -> dict[str, list[Any]]:
    """Every output of ``odfv`` for ``rows`` rows, as canonical Python values per type."""
    code = odfv.code
    try:
        if code.mode == "pandas":
            frame = pd.DataFrame(
                {name: _series(spec, values, rows) for name, (spec, values) in inputs.items()},
                index=pd.RangeIndex(rows),
            )
            result = code.function(frame)
            produced = {c: list(result[c]) for c in result.columns}
        elif code.singleton:
            produced = {}
            for i in range(rows):
                row = code.function({n: _plain(spec, v[i]) for n, (spec, v) in inputs.items()})
                for name, value in row.items():
                    produced.setdefault(name, []).append(value)
        else:
            plain = {n: [_plain(spec, x) for x in values] for n, (spec, values) in inputs.items()}
            produced = {k: list(v) for k, v in code.function(plain).items()}
    except Exception as exc:  # the repository's code: name it, never a bare traceback
        raise RequestError(f"on-demand view {odfv.view!r} failed: {exc!r}") from exc
    out: dict[str, list[Any]] = {}
    for spec in odfv.outputs:
        if spec.name not in produced:
            raise RequestError(f"on-demand view {odfv.view!r} did not return {spec.name!r}")
        values = produced[spec.name]
        if len(values) != rows:
            raise RequestError(
                f"on-demand view {odfv.view!r} returned {len(values)} rows for {rows}"
            )
        out[spec.name] = [canonical(v, spec.type) for v in values]
    return out


def _series(spec: ColumnSpec | None, values: Sequence[Any], rows: int) -> pd.Series:
    if isinstance(values, pd.Series):
        return values.reset_index(drop=True)
    if spec is None:
        return pd.Series(list(values), dtype=object)
    dtype = output_dtype(spec)
    plain = [canonical(v, spec.type) for v in values]
    if dtype == "object":
        return pd.Series(plain, dtype=object)
    if spec.type.is_float:
        plain = [float("nan") if v is None else v for v in plain]
    return pd.Series(plain, dtype=dtype)


def _plain(spec: ColumnSpec | None, value: Any) -> Any:
    return value if spec is None else canonical(value, spec.type)


def output_series(spec: ColumnSpec, values: list[Any]) -> pd.Series:
    """An output column in its training-frame dtype."""
    return _series(spec, values, len(values))
