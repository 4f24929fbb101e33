"""One spool path for the emitter and ``skewless lineage flush``, wherever the data dir is.

The data plane spools to ``LINEAGE_SPOOL_PATH``, else ``lineage-spool.jsonl`` in
``SKEWLESS_DATA_DIR``; ``flush`` reads the same file (not ``./data`` in the working directory),
says where it looked and how many records waited and were replayed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from services.cli import app
from services.ingestion.gate import ingest_frame
from services.lineage_events import _EMITTERS
from services.settings import Settings
from services.store import Store, load_definitions
from tests.integration.serving.conftest import free_port

runner = CliRunner()


def _spool_two_events(settings: Settings) -> None:
    """One ingest while the lineage service is down: its START and COMPLETE are spooled."""
    store = Store(settings)
    try:
        store.apply(load_definitions(settings.repo_path))
        row = pd.DataFrame(
            {
                "merchant_id": [1],
                "event_timestamp": [pd.Timestamp("2026-01-01T00:00:00Z")],
                "created_timestamp": [pd.Timestamp("2026-01-01T00:05:00Z")],
                "merchant_category": ["fuel"],
                "fraud_rate_30d": [0.01],
                "chargeback_rate_30d": [0.02],
                "txn_volume_30d": [3],
            }
        )
        assert ingest_frame(store, "merchant_risk", row, update_online=False).accepted
    finally:
        store.close()
        for emitter in _EMITTERS.values():
            emitter.close()
        _EMITTERS.clear()


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with no ``./data``, and a lineage database of the test's own."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("LINEAGE_DATABASE_URL", f"sqlite:///{tmp_path / 'lineage.db'}")
    monkeypatch.delenv("LINEAGE_SPOOL_PATH", raising=False)
    return cwd


def _flush(*env: tuple[str, str]) -> tuple[int, list[str]]:
    r = runner.invoke(app, ["lineage", "flush"], env=dict(env))
    return r.exit_code, r.output.strip().splitlines()


@pytest.mark.parametrize("explicit", [False, True], ids=["data-dir", "LINEAGE_SPOOL_PATH"])
def test_flush_replays_the_spool_the_data_plane_wrote(
    make_settings: Callable[..., Settings],
    elsewhere: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    explicit: bool,
) -> None:
    if explicit:
        monkeypatch.setenv("LINEAGE_SPOOL_PATH", str(tmp_path / "spools" / "mine.jsonl"))
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: everything is spooled
    settings = make_settings("sqlite", lineage_url=dead)
    expected = (
        tmp_path / "spools" / "mine.jsonl"
        if explicit
        else settings.data_dir / ("lineage-spool.jsonl")
    )
    assert settings.lineage_spool_path == expected
    _spool_two_events(settings)
    assert len(expected.read_text().splitlines()) == 2
    assert not (elsewhere / "data").exists()

    # The service is still down: nothing is lost, and flush says so (exit 3, one error line).
    code, lines = _flush(("LINEAGE_URL", dead))
    assert code == 3, lines
    assert lines[0] == f"lineage spool: {expected}"
    assert lines[1] == "2 record(s) waiting, 0 replayed, 2 still waiting"
    assert lines[2].startswith("error: 2 record(s) could not be delivered")
    assert len(expected.read_text().splitlines()) == 2

    # Into the lineage database (no LINEAGE_URL): both replayed, from the same file.
    monkeypatch.delenv("LINEAGE_URL", raising=False)
    code, lines = _flush()
    assert code == 0, lines
    assert lines == [
        f"lineage spool: {expected}",
        "2 record(s) waiting, 2 replayed, 0 still waiting",
    ]
    assert expected.read_text() == ""
    assert not (elsewhere / "data").exists()


def test_flush_without_a_spool_says_where_it_looked(
    make_settings: Callable[..., Settings], elsewhere: Path
) -> None:
    settings = make_settings("sqlite")
    code, lines = _flush()
    assert code == 0
    assert lines == [f"no lineage spool at {settings.lineage_spool_path}: nothing to replay"]
