"""The benchmark harness runs end to end at a tiny scale and Skewless's answers are exact.

Never asserts timings: only that every row is filled where a counterpart exists, that
Skewless's point-in-time join matches the hand-written reference SQL cell for cell, and that
on the String-keyed embedding view Skewless's online values equal the latest source rows and
Feast's own answers, its Redis hashes byte for byte.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import run, skewless_side
from services.settings import reset_settings

pytestmark = pytest.mark.integration

# Feast has no lineage service and no gated ingest; its CLI is the cli rows' baseline column
NO_FEAST = ("lineage", "ingest streamed", "CLI")
# no raw HTTP server, graph reference or streamed-validation ceiling
NO_LIMIT = ("HTTP", "lineage GET", "lineage impact", "ingest streamed")


def test_bench_quick_completes_and_skewless_is_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The harness sets the Skewless variables in this process; restore them afterwards.
    for name in skewless_side.env(tmp_path, "x", "redis://127.0.0.1:6379/13"):
        monkeypatch.setenv(name, "")
    try:
        rows = run.main(["--scale", "0.005", "--quick", "--out", str(tmp_path)])
    finally:
        reset_settings()

    assert (tmp_path / "latest.md").exists()
    assert (tmp_path / "latest.json").exists()
    assert len(rows) >= 20
    for row in rows:
        assert row.skewless is not None, row.metric
        if not row.metric.startswith(NO_FEAST):
            assert row.feast is not None, row.metric
        if not row.metric.startswith(NO_LIMIT):
            assert row.limit is not None or row.baseline is not None, row.metric
    sequential = [r for r in rows if r.metric.startswith("lineage intake, sequential")]
    assert len(sequential) == 2
    for row in sequential:  # the ceiling server acknowledged every event; raw INSERT beside it
        assert row.limit is not None, row.metric
        assert row.limit > 0, row.metric
        assert row.extra["raw_insert"] > 0, row.metric
    training = [r for r in rows if r.metric.startswith("training set,")]
    assert training
    for row in training:
        assert row.correct is not None
        skewless = row.correct["skewless"]
        assert skewless["rows_missing"] == 0
        assert skewless["rows_returned"] == skewless["rows_expected"]
        assert skewless["cells_differ"] == 0
        assert row.correct["baseline"]["cells_differ"] == 0

    spark = [r for r in rows if r.metric.startswith("training set scaling") and "Spark" in r.metric]
    assert len(spark) == 2  # 1x and 4x in a quick run
    for row in spark:
        assert row.correct is not None
        same = row.correct["spark_vs_duckdb"]
        assert (same["rows_missing"], same["cells_differ"]) == (0, 0), row.metric
        assert same["rows_returned"] == same["rows_expected"]

    embedding_rows = [r for r in rows if r.extra.get("view") == "bench_item_embedding"]
    assert len(embedding_rows) == 4  # materialize rate + RSS, 100-item read p50 + p99
    checked = [r.correct for r in embedding_rows if r.correct is not None]
    assert len(checked) == 1
    for engine in ("skewless", "feast", "limit"):
        result = checked[0][engine]
        assert result["items_expected"] > 0, engine
        assert result["items_missing"] == 0, engine
        assert result["cells_differ"] == 0, (engine, result["columns_differ"])
    assert checked[0]["skewless"]["hashes_differ_from_feast"] == 0
