"""openlineage-python's own clients as producers use them, sending the bench's RunEvents.

The synchronous ``HttpTransport`` (what Airflow and dbt use: one request at a time) and the
``AsyncHttpTransport`` (many in flight). Events are built as the client's ``RunEvent`` objects
before the clock starts; each function returns accepted events/s and the CPU ms per event the
sending process spent.
"""

from __future__ import annotations

import time
from typing import Any

PRODUCER = "https://github.com/skewless/skewless/tree/main/bench"


def client_event(event: dict[str, Any]) -> Any:
    """The same event as an openlineage-python ``RunEvent`` (what its transports send)."""
    from openlineage.client.event_v2 import (
        InputDataset,
        Job,
        OutputDataset,
        Run,
        RunEvent,
        RunState,
    )
    from openlineage.client.generated.dataset_version_dataset import DatasetVersionDatasetFacet

    def facets(ds: dict[str, Any]) -> dict[str, Any]:
        return {"version": DatasetVersionDatasetFacet(datasetVersion="v1")}

    return RunEvent(
        eventType=RunState.COMPLETE,
        eventTime=event["eventTime"],
        run=Run(runId=event["run"]["runId"]),
        job=Job(namespace=event["job"]["namespace"], name=event["job"]["name"]),
        producer=PRODUCER,
        inputs=[InputDataset(d["namespace"], d["name"], facets=facets(d)) for d in event["inputs"]],
        outputs=[
            OutputDataset(d["namespace"], d["name"], facets=facets(d)) for d in event["outputs"]
        ],
    )


def sequential_client_intake(
    url: str, token: str, events: list[dict[str, Any]]
) -> tuple[float, float]:
    """Send ``events`` one at a time with openlineage-python's synchronous ``HttpTransport``.

    Returns accepted events/s, and the CPU ms per event the sending process spent. The transport
    raises on any answer but 2xx, so every event counted was acknowledged.
    """
    from openlineage.client import OpenLineageClient
    from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport

    config = HttpConfig(url=url, auth=ApiKeyTokenProvider({"apiKey": token}), timeout=30.0)
    client = OpenLineageClient(transport=HttpTransport(config))
    built = [client_event(e) for e in events]  # built before the clock starts
    try:
        start, cpu = time.perf_counter(), time.process_time()
        for event in built:
            client.emit(event)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
    finally:
        client.transport.close()
    return len(events) / elapsed, cpu / len(events) * 1000


def concurrent_intake(
    url: str, token: str, events: list[dict[str, Any]], in_flight: int
) -> tuple[float, float]:
    """Send ``events`` with openlineage-python's AsyncHttpTransport.

    Returns accepted events/s, and the CPU ms per event the sending process spent.
    """
    from openlineage.client.transport.async_http import AsyncHttpConfig, AsyncHttpTransport
    from openlineage.client.transport.http import ApiKeyTokenProvider

    config = AsyncHttpConfig(
        url=url,
        auth=ApiKeyTokenProvider({"apiKey": token}),
        max_concurrent_requests=in_flight,
        timeout=30.0,
    )
    transport = AsyncHttpTransport(config)
    built = [client_event(e) for e in events]  # built before the clock starts
    try:
        start, cpu = time.perf_counter(), time.process_time()
        for event in built:
            transport.emit(event)
        if not transport.wait_for_completion(timeout=600):
            raise RuntimeError("openlineage AsyncHttpTransport did not finish within 600 s")
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
        stats = dict(transport.get_stats())
    finally:
        transport.close(timeout=30)
    if stats.get("success") != len(events) or stats.get("failed"):
        raise RuntimeError(f"intake lost events: sent {len(events)}, transport stats {stats}")
    return len(events) / elapsed, cpu / len(events) * 1000
