"""The Marquez-compatible API at its edges, as a new user's probe found them (on both backends).

Names that end in a route's own word (``a/versions``), versions that arrive out of event-time
order, a run written by two runs, facets that name namespaces the caller may not read, node ids
whose ``namespace:name`` splits collide across grants, and Marquez's upper-case query values.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

NS = "edges"
SECRET = "secret"
PRODUCER = "https://example.com/probe"
SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent"


def _run_id() -> str:
    return str(uuid.uuid4())


def _dataset(ns: str, name: str, version: str | None = None, **facets: Any) -> dict[str, Any]:
    if version is not None:
        facets["version"] = {"datasetVersion": version}
    return {"namespace": ns, "name": name, "facets": facets}


def _event(
    job: tuple[str, str],
    when: str,
    *,
    run_id: str | None = None,
    outputs: list[dict[str, Any]] | None = None,
    run_facets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": when,
        "run": {"runId": run_id or _run_id(), "facets": run_facets or {}},
        "job": {"namespace": job[0], "name": job[1], "facets": {}},
        "inputs": [],
        "outputs": outputs or [],
        "producer": PRODUCER,
        "schemaURL": SCHEMA,
    }


def _poster(client, token: str):
    def post(event: dict[str, Any]) -> None:
        answer = client.post(
            "/api/v1/lineage", json=event, headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 201, answer.text

    return post


def _getter(client, token: str):
    def get(path: str, **params: Any) -> Any:
        return client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})

    return get


def test_a_name_ending_in_a_route_word_is_that_name_not_the_route(client, make_token) -> None:
    post = _poster(client, make_token("p", "producer", NS, f"{NS}/jobs"))
    post(_event((NS, "x"), "2024-06-01T00:00:00Z", outputs=[_dataset(NS, "a", "v1")]))
    post(_event((NS, "x/runs"), "2024-06-01T00:00:00Z", outputs=[_dataset(NS, "a/versions")]))
    post(_event((f"{NS}/jobs", "y"), "2024-06-01T00:00:00Z"))
    get = _getter(client, make_token("a", "auditor"))

    dataset = get(f"/api/v1/namespaces/{NS}/datasets/{quote('a/versions', safe='')}")
    assert dataset.status_code == 200, dataset.text
    assert dataset.json()["name"] == "a/versions"
    job = get(f"/api/v1/namespaces/{NS}/jobs/{quote('x/runs', safe='')}").json()
    assert job["name"] == "x/runs"  # not job x's runs
    namespace = get(f"/api/v1/namespaces/{quote(f'{NS}/jobs', safe='')}").json()
    assert namespace["name"] == f"{NS}/jobs"  # not the jobs of namespace NS
    # A name holding '%' is itself, and the routes' own words still route.
    assert [
        v["version"] for v in get(f"/api/v1/namespaces/{NS}/datasets/a/versions").json()["versions"]
    ] == ["v1"]
    one = get(f"/api/v1/namespaces/{NS}/datasets/a/versions/v1")
    assert one.status_code == 200, one.text
    assert one.json()["version"] == "v1"
    assert get(f"/api/v1/namespaces/{NS}/datasets/a/versions/v9").status_code == 404


def test_the_current_version_is_the_newest_by_event_time_not_arrival(client, make_token) -> None:
    post = _poster(client, make_token("p", "producer", NS))
    newer, older = _run_id(), _run_id()
    post(
        _event(
            (NS, "load"), "2024-06-03T00:00:00Z", run_id=newer, outputs=[_dataset(NS, "t", "v3")]
        )
    )
    post(
        _event(
            (NS, "load"), "2024-06-01T00:00:00Z", run_id=older, outputs=[_dataset(NS, "t", "v1")]
        )
    )
    # The same version written again later by a run whose id sorts first.
    again = "00000000-0000-4000-8000-000000000001"
    post(
        _event(
            (NS, "load"), "2024-06-05T00:00:00Z", run_id=again, outputs=[_dataset(NS, "t", "v1")]
        )
    )
    get = _getter(client, make_token("a", "auditor"))

    dataset = get(f"/api/v1/namespaces/{NS}/datasets/t").json()
    versions = get(f"/api/v1/namespaces/{NS}/datasets/t/versions").json()["versions"]
    assert [v["version"] for v in versions] == ["v3", "v1"]
    assert dataset["currentVersion"] == versions[0]["version"] == "v3"
    assert get(f"/api/v1/namespaces/{NS}/datasets").json()["datasets"][0]["currentVersion"] == "v3"
    assert versions[1]["createdByRun"]["id"] == older  # the first run to write it, by time


def _column_facet(ns: str, name: str, field: str) -> dict[str, Any]:
    return {"fields": {"f": {"inputFields": [{"namespace": ns, "name": name, "field": field}]}}}


def test_facets_naming_a_hidden_namespace_are_redacted_on_every_route(client, make_token) -> None:
    post = _poster(client, make_token("p", "producer", NS, SECRET))
    parent = _run_id()
    post(_event((SECRET, "dag"), "2024-06-01T00:00:00Z", run_id=parent))
    facets = {"parent": {"run": {"runId": parent}, "job": {"namespace": SECRET, "name": "dag"}}}
    out = _dataset(
        NS,
        "joined",
        "v1",
        columnLineage={
            "fields": {
                "f": {
                    "inputFields": [
                        {"namespace": SECRET, "name": "hidden_ds", "field": "a"},
                        {"namespace": NS, "name": "open_ds", "field": "b"},
                    ]
                }
            }
        },
    )
    child = _run_id()
    post(
        _event(
            (NS, "child"), "2024-06-01T00:01:00Z", run_id=child, outputs=[out], run_facets=facets
        )
    )
    consumer = _getter(client, make_token("c", "consumer", NS))
    auditor = _getter(client, make_token("a", "auditor"))

    answers = [
        consumer(f"/api/v1/namespaces/{NS}/jobs/child").json(),
        consumer(f"/api/v1/namespaces/{NS}/jobs/child/runs").json(),
        consumer(f"/api/v1/jobs/runs/{child}").json(),
        consumer(f"/api/v1/namespaces/{NS}/datasets/joined").json(),
        consumer(f"/api/v1/namespaces/{NS}/datasets/joined/versions").json(),
        consumer("/api/v1/events/lineage").json(),
    ]
    for answer in answers:
        assert SECRET not in str(answer), answer
    dataset = answers[3]
    inputs = dataset["facets"]["columnLineage"]["fields"]["f"]["inputFields"]
    assert inputs == [{"namespace": NS, "name": "open_ds", "field": "b"}]
    assert answers[5]["totalCount"] == 0  # the event names the hidden parent
    # An auditor reads them as stored.
    run = auditor(f"/api/v1/jobs/runs/{child}").json()
    assert run["facets"]["parent"]["job"]["namespace"] == SECRET
    assert auditor("/api/v1/events/lineage").json()["totalCount"] == 2


def test_a_hidden_dataset_whose_id_collides_does_not_shadow_a_readable_one(
    client, make_token
) -> None:
    # Dataset "x:y" in NS, and dataset "y" in namespace "NS:x": both are dataset:NS:x:y.
    post = _poster(client, make_token("p", "producer", NS, f"{NS}:x"))
    post(_event((NS, "w"), "2024-06-01T00:00:00Z", outputs=[_dataset(NS, "x:y", "v1")]))
    post(_event((f"{NS}:x", "w"), "2024-06-02T00:00:00Z", outputs=[_dataset(f"{NS}:x", "y", "v1")]))
    narrow = _getter(client, make_token("c", "consumer", f"{NS}:x"))
    node = f"dataset:{NS}:x:y"
    for path in ("/api/v1/lineage", "/api/v1/history"):
        answer = narrow(path, nodeId=node)
        assert answer.status_code == 200, (path, answer.text)
    graph = narrow("/api/v1/lineage", nodeId=node).json()["graph"]
    assert {n["data"].get("namespace") for n in graph if n["type"] == "DATASET"} == {f"{NS}:x"}


def test_marquez_s_upper_case_values_limit_zero_and_upper_case_run_ids(client, make_token) -> None:
    post = _poster(client, make_token("p", "producer", NS))
    run_id = _run_id()
    post(_event((NS, "load"), "2024-06-01T00:00:00Z", run_id=run_id, outputs=[_dataset(NS, "t")]))
    get = _getter(client, make_token("a", "auditor"))
    found = get("/api/v1/search", q="t", filter="DATASET", sort="UPDATED_AT")
    assert found.status_code == 200, found.text
    assert [r["name"] for r in found.json()["results"]] == ["t"]
    assert get("/api/v1/events/lineage", sortDirection="ASC").status_code == 200
    counted = get(f"/api/v1/namespaces/{NS}/datasets", limit=0).json()
    assert counted == {"datasets": [], "totalCount": 1}
    assert get(f"/api/v1/jobs/runs/{run_id.upper()}").json()["id"] == run_id
    assert get("/api/v1/lineage", nodeId=f"run:{run_id.upper()}").status_code == 200


def test_a_name_longer_than_the_store_keeps_is_a_422_naming_the_field(client, make_token) -> None:
    token = make_token("p", "producer", NS)
    event = _event((NS, "load"), "2024-06-01T00:00:00Z", outputs=[_dataset(NS, "n" * 401)])
    answer = client.post(
        "/api/v1/lineage", json=event, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 422
    assert answer.json()["field"] == "outputs[0].name", answer.text
    assert "400" in answer.json()["detail"]


def test_a_view_name_holding_a_slash_is_a_422_that_says_why(client, make_token) -> None:
    # A foreign producer can name a dataset feature_view/a/b; the console then asks for its
    # usage. Feast view names cannot hold '/', and the answer says so instead of "Not Found".
    get = _getter(client, make_token("a", "auditor"))
    for route in ("usage", "reads"):
        answer = get(f"/api/v1/{route}/feature-views/{quote('a/b', safe='')}", namespace=NS)
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == "view"
        assert "'a/b'" in answer.json()["detail"]
