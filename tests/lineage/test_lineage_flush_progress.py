"""``Emitter.flush`` reports each spooled record it replays, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from lineage.emitter import DatasetRef, Emitter
from lineage.identity import job_name, source_dataset
from tests.lineage.test_lineage_http import free_port


def test_flush_reports_every_record_it_replays(db_url: str, tmp_path: Path) -> None:
    spool = tmp_path / "spool.jsonl"
    down = Emitter(database_url="", url=f"http://127.0.0.1:{free_port()}", spool_path=spool)
    for version in ("o1", "o2", "o3"):
        ref = DatasetRef(source_dataset("orders"), version=version)
        down.emit_run(job_name("ingest", "orders"), outputs=[ref])
    down.close()
    assert len(spool.read_text().splitlines()) == 6  # a START and a COMPLETE each

    heard: list[str] = []
    emitter = Emitter(database_url=db_url, spool_path=spool)
    try:
        replayed = emitter.flush(progress=heard.append)
    finally:
        emitter.close()
    assert replayed == 6
    assert heard == ["event"] * 6
    assert spool.read_text() == ""
