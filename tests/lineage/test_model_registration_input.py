"""A model registration's input is checked, on the Python API and over HTTP.

Metrics are finite numbers: NaN and infinities were stored, and ``lineage provenance --json``
then printed ``NaN`` / ``Infinity``, which no strict JSON reader takes; a metric that is no
number was a bare ``could not convert string to float`` naming no metric. Names and versions
keep node ids and routes unambiguous: ``(m:x, 1)`` and ``(m, x:1)`` were one node id
(``model:m:x:1``), and a name holding ``/`` could not be read back by its route.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lineage.emitter import Emitter
from lineage.errors import InvalidQuery


@pytest.mark.parametrize(
    ("metrics", "said"),
    [
        ({"auc": float("nan")}, "metric 'auc': nan is not a finite number"),
        ({"loss": float("inf")}, "metric 'loss': inf is not a finite number"),
        ({"grade": "high"}, "metric 'grade': 'high' is not a number"),
    ],
)
def test_the_emitter_refuses_a_metric_that_is_no_finite_number(
    db_url: str, tmp_path: Path, metrics: dict[str, object], said: str
) -> None:
    emitter = Emitter(database_url=db_url, spool_path=tmp_path / "spool.jsonl")
    with pytest.raises(ValueError, match=said):
        emitter.register_model("m", "1", "ts-1", metrics)  # type: ignore[arg-type]
    assert not (tmp_path / "spool.jsonl").exists()  # nothing spooled to fail later


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_the_api_refuses_a_metric_that_is_no_finite_number(
    client: TestClient, make_token: Callable[..., str], literal: str
) -> None:
    token = make_token("admin", "admin")
    body = '{"name": "m", "version": "1", "trainingSetVersion": "ts-1", "metrics": {"auc": %s}}'
    answer = client.post(
        "/api/v1/models",
        content=body % literal,
        headers={"Authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    assert "auc" in answer.text


@pytest.mark.parametrize(
    ("name", "version", "field"),
    [("m", "x:1", "version"), ("m", "x/1", "version"), ("team/fraud", "2", "name")],
)
def test_a_name_or_version_that_would_be_ambiguous_is_refused(
    client: TestClient,
    make_token: Callable[..., str],
    db_url: str,
    tmp_path: Path,
    name: str,
    version: str,
    field: str,
) -> None:
    token = make_token("admin", "admin")
    body = {"name": name, "version": version, "trainingSetVersion": "ts-1"}
    answer = client.post("/api/v1/models", json=body, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == f"body.{field}"  # the schema states the rule
    emitter = Emitter(database_url=db_url, spool_path=tmp_path / "spool.jsonl")
    with pytest.raises(InvalidQuery, match=field):
        emitter.register_model(name, version, "ts-1", {})
    assert not (tmp_path / "spool.jsonl").exists()
