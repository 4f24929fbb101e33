"""A model's metrics are finite numbers, on the Python API and over HTTP.

NaN and infinities were stored, and ``lineage provenance --json`` then printed ``NaN`` /
``Infinity``, which no strict JSON reader takes; a metric that is no number was a bare
``could not convert string to float`` naming no metric.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lineage.emitter import Emitter


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
