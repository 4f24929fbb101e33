"""Compressed intake: openlineage-python's gzip on both transports, deflate, bombs and junk."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.generated import dataset_version_dataset
from openlineage.client.serde import Serde
from openlineage.client.transport.async_http import AsyncHttpConfig, AsyncHttpTransport
from openlineage.client.transport.http import (
    ApiKeyTokenProvider,
    HttpCompression,
    HttpConfig,
    HttpTransport,
)
from openlineage.client.uuid import generate_new_uuid
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lineage.db.models import AuditLog, LineageEvent
from lineage.db.session import session_scope
from lineage.identity import NAMESPACE
from lineage.settings import LineageSettings
from tests.lineage.test_lineage_http import ServiceThread, free_port

LIMIT = 64 * 1024


@pytest.fixture
def live(settings: LineageSettings) -> Iterator[ServiceThread]:
    served = settings.model_copy(update={"intake_writer": "process", "max_body_bytes": LIMIT})
    with ServiceThread(served, free_port()) as svc:
        yield svc


def _event(name: str) -> RunEvent:
    facets = {"version": dataset_version_dataset.DatasetVersionDatasetFacet("v1")}
    return RunEvent(
        eventType=RunState.COMPLETE,
        eventTime=datetime.now(UTC).isoformat(),
        run=Run(runId=str(generate_new_uuid())),
        job=Job(namespace=NAMESPACE, name=f"compressed.{name}"),
        producer="https://t",
        outputs=[OutputDataset(namespace=NAMESPACE, name=f"out.{name}", facets=facets)],
    )


def _stored(maker: sessionmaker[Session], name: str) -> int:
    with session_scope(maker) as s:
        payload = LineageEvent.payload
        found = select(func.count()).where(payload["job"]["name"].as_string() == name)
        return int(s.scalar(found.select_from(LineageEvent)) or 0)


def test_gzip_from_both_openlineage_transports_is_stored(live, make_token, maker) -> None:
    token = make_token("gz-producer", "producer", NAMESPACE)
    auth = ApiKeyTokenProvider({"apiKey": token})
    sync = HttpTransport(HttpConfig(url=live.url, auth=auth, compression=HttpCompression.GZIP))
    OpenLineageClient(transport=sync).emit(_event("sync"))
    assert _stored(maker, "compressed.sync") == 1

    config = AsyncHttpConfig(url=live.url, auth=auth, compression=HttpCompression.GZIP)
    transport = AsyncHttpTransport(config)
    try:
        for i in range(5):
            transport.emit(_event(f"async{i}"))
        assert transport.wait_for_completion(timeout=120)
        stats = dict(transport.get_stats())
    finally:
        transport.close(timeout=30)
    assert stats.get("success") == 5, stats
    assert not stats.get("failed"), stats
    assert sum(_stored(maker, f"compressed.async{i}") for i in range(5)) == 5


def test_deflate_bombs_and_junk(live, make_token, maker) -> None:
    token = make_token("gz-producer2", "producer", NAMESPACE)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    raw = Serde.to_json(_event("deflate")).encode()
    with httpx.Client(base_url=live.url, timeout=30) as client:

        def post(content: bytes, encoding: str) -> httpx.Response:
            return client.post(
                "/api/v1/lineage",
                content=content,
                headers={**headers, "Content-Encoding": encoding},
            )

        assert post(zlib.compress(raw), "deflate").status_code == 201
        raw_deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        other = Serde.to_json(_event("rawdeflate")).encode()
        assert post(raw_deflate.compress(other) + raw_deflate.flush(), "deflate").status_code == 201
        with session_scope(maker) as s:
            audited = int(s.scalar(select(func.count()).select_from(AuditLog)) or 0)
        # A bomb: 40 KB of gzip that would inflate to 40 MB stops at the cap, as a 413.
        bomb = gzip.compress(b" " * (40 * 1024 * 1024))
        assert len(bomb) < LIMIT
        refused = post(bomb, "gzip")
        assert refused.status_code == 413, refused.text
        assert refused.json()["code"] == "body_too_large"
        # Inflating just past the cap is refused too; just under it would pass the cap.
        padded = json.loads(raw)
        padded["run"]["facets"] = {"pad": {"_producer": "p", "_schemaURL": "s", "x": "y" * LIMIT}}
        assert post(gzip.compress(json.dumps(padded).encode()), "gzip").status_code == 413
        junk = post(b"not gzip at all", "gzip")
        assert junk.status_code == 422
        assert junk.json()["detail"].startswith("body: not valid gzip data")
        assert post(gzip.compress(raw)[:-8], "gzip").status_code == 422  # truncated
        unsupported = post(raw, "br")
        assert unsupported.status_code == 422
        assert "Content-Encoding" in unsupported.json()["detail"]
        assert post(raw, "identity").status_code == 201  # the same event again: a duplicate
    with session_scope(maker) as s:
        assert int(s.scalar(select(func.count()).select_from(AuditLog)) or 0) > audited
