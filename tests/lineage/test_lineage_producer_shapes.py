"""What real producers send, from golden events in ``tests/fixtures/openlineage/``, over HTTP.

An Airflow task run under its DAG run (ParentRunFacet) reading raw data in a bucket its producer
may not write; a Spark output named also as a Hive table (``symlinks``); a dbt model's column
lineage; a dbt JobEvent declaring a model's inputs and outputs. Each is checked through the
service's own API and its Marquez-compatible routes, as a client would read it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from lineage.settings import LineageSettings
from tests.lineage.test_lineage_http import ServiceThread, free_port

FIXTURES = Path(__file__).parents[1] / "fixtures" / "openlineage"
DAG_RUN = "0f9d3e4c-1b2a-4c5d-8e6f-7a8b9c0d1e2f"
TASK_RUN = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
RAW = "dataset:s3://raw-bucket:orders/2026-11-20.parquet"


def _golden(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def api(settings: LineageSettings) -> Iterator[httpx.Client]:
    served = settings.model_copy(update={"intake_writer": "process"})
    with ServiceThread(served, free_port()) as svc, httpx.Client(base_url=svc.url) as client:
        yield client


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _graph(api: httpx.Client, token: str, node: str, depth: int = 3) -> dict[str, Any]:
    r = api.get("/api/v1/lineage", params={"nodeId": node, "depth": depth}, headers=_as(token))
    assert r.status_code == 200, r.text
    return {n["id"]: n for n in r.json()["graph"]}


def test_parent_runs_and_reads_outside_the_producers_namespace(api, make_token) -> None:
    producer = make_token("airflow-producer", "producer", "airflow")
    auditor = make_token("auditor", "auditor", "*")
    for event in _golden("parent_run_chain.json"):
        r = api.post("/api/v1/lineage", json=event, headers=_as(producer))
        assert r.status_code == 201, r.text  # the bucket is read, not written: no 403

    # The parent run and job exist, linked both ways.
    around_task = _graph(api, auditor, f"run:{TASK_RUN}")
    assert f"run:{DAG_RUN}" in around_task
    assert {"origin": f"run:{DAG_RUN}", "destination": f"run:{TASK_RUN}"} in around_task[
        f"run:{TASK_RUN}"
    ]["inEdges"]
    assert f"run:{TASK_RUN}" in _graph(api, auditor, f"run:{DAG_RUN}")
    around_dag = _graph(api, auditor, "job:airflow:daily_etl")
    assert "job:airflow:daily_etl.load_orders" in around_dag
    assert "job:airflow:daily_etl" in _graph(api, auditor, "job:airflow:daily_etl.load_orders")

    # The read is an edge to a bare node; nothing was written into the bucket's namespace.
    around_raw = _graph(api, auditor, RAW)
    assert "job:airflow:daily_etl.load_orders" in around_raw
    bucket = quote("s3://raw-bucket", safe="")
    name = quote("orders/2026-11-20.parquet", safe="")
    versions = api.get(
        f"/api/v1/namespaces/{bucket}/datasets/{name}/versions", headers=_as(auditor)
    )
    assert versions.status_code == 200, versions.text
    assert versions.json()["versions"] == []

    # Writing into a namespace the producer may not write is still refused.
    event = _golden("parent_run_chain.json")[1]
    event["outputs"][0]["namespace"] = "s3://raw-bucket"
    refused = api.post("/api/v1/lineage", json=event, headers=_as(producer))
    assert refused.status_code == 403, refused.text


def test_a_symlinked_dataset_is_found_by_its_other_name(api, make_token) -> None:
    # The table's Hive name is a name claimed in the metastore's namespace: the producer must
    # be granted it as well as the files' (an alias into a namespace not granted is a 403).
    spark_files = ("spark", "hdfs://namenode:8020")
    without_hive = make_token("spark-nohive", "producer", *spark_files)
    refused = api.post(
        "/api/v1/lineage", json=_golden("symlinked_dataset.json"), headers=_as(without_hive)
    )
    assert refused.status_code == 403, refused.text
    assert "hive://metastore:9083" in refused.text
    producer = make_token("spark-producer", "producer", *spark_files, "hive://metastore:9083")
    auditor = make_token("auditor2", "auditor", "*")
    assert (
        api.post(
            "/api/v1/lineage", json=_golden("symlinked_dataset.json"), headers=_as(producer)
        ).status_code
        == 201
    )
    real = "dataset:hdfs://namenode:8020:/warehouse/orders_enriched"
    by_alias = _graph(api, auditor, "dataset:hive://metastore:9083:analytics.orders_enriched")
    assert real in by_alias
    assert "job:spark:orders_enrichment" in by_alias
    hive = quote("hive://metastore:9083", safe="")
    found = api.get(
        f"/api/v1/namespaces/{hive}/datasets/analytics.orders_enriched", headers=_as(auditor)
    )
    assert found.status_code == 200, found.text
    assert found.json()["name"] == "/warehouse/orders_enriched"


def test_column_lineage_is_in_the_graph_and_at_its_endpoint(api, make_token) -> None:
    producer = make_token("dbt-producer", "producer", "dbt")
    auditor = make_token("auditor3", "auditor", "*")
    event = _golden("column_lineage.json")
    assert api.post("/api/v1/lineage", json=event, headers=_as(producer)).status_code == 201
    node = _graph(api, auditor, "dataset:dbt:shop.customers_summary")[
        "dataset:dbt:shop.customers_summary"
    ]
    assert node["data"]["columnLineage"] == [
        {
            "field": "customer_id",
            "inputFields": [
                {
                    "namespace": "dbt",
                    "name": "shop.orders",
                    "field": "customer_id",
                    "transformation": "DIRECT",
                }
            ],
        },
        {
            "field": "total_amount",
            "inputFields": [
                {
                    "namespace": "dbt",
                    "name": "shop.orders",
                    "field": "amount",
                    "transformation": "DIRECT",
                }
            ],
        },
    ]
    columns = api.get(
        "/api/v1/column-lineage",
        params={"nodeId": "dataset:dbt:shop.customers_summary"},
        headers=_as(auditor),
    )
    assert columns.status_code == 200, columns.text
    ids = {n["id"] for n in columns.json()["graph"]}
    assert "datasetField:dbt:shop.orders:amount" in ids
    assert "datasetField:dbt:shop.customers_summary:total_amount" in ids


def test_a_job_events_inputs_and_outputs_are_the_jobs_edges(api, make_token) -> None:
    producer = make_token("dbt-producer2", "producer", "dbt")
    auditor = make_token("auditor4", "auditor", "*")
    r = api.post("/api/v1/lineage", json=_golden("job_event.json"), headers=_as(producer))
    assert r.status_code == 201, r.text
    output = _graph(api, auditor, "dataset:dbt:shop.daily_revenue")  # a node now, not a 404
    job = "job:dbt:shop.daily_revenue"
    assert {"origin": job, "destination": "dataset:dbt:shop.daily_revenue"} in output[job][
        "outEdges"
    ]
    around_job = _graph(api, auditor, job)
    assert {"origin": "dataset:dbt:shop.orders", "destination": job} in around_job[job]["inEdges"]
    # Sent again, nothing changes (the edges are stored once).
    assert api.post("/api/v1/lineage", json=_golden("job_event.json"), headers=_as(producer))
    assert _graph(api, auditor, job) == around_job
