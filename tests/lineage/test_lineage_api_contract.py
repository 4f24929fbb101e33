"""The lineage API's documented contract at its edges: 405s, malformed bodies, query times,
and the OpenLineage event schemas published in its OpenAPI document."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from lineage.identity import NAMESPACE


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "eventType": "START",
        "eventTime": "2026-12-01T10:00:00Z",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": NAMESPACE, "name": "ingest.contract"},
        "producer": "https://example.org/contract-test",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    }
    event.update(changes)
    return event


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/api/v1/lineage", "GET, POST"),  # two routes share the path
        ("TRACE", "/api/v1/tokens", "GET, POST"),
        ("GET", "/api/v1/tokens/3", "DELETE"),
        ("DELETE", "/health", "GET"),
    ],
)
def test_every_405_names_all_the_methods_of_its_path(
    client: TestClient, method: str, path: str, allow: str
) -> None:
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.json()["code"] == "method_not_allowed"


@pytest.mark.parametrize("body", [b"\xff}~", b"{not json", b"[1, 2"])
@pytest.mark.parametrize("path", ["/api/v1/deployments", "/api/v1/models", "/api/v1/lineage"])
def test_a_body_that_is_not_json_is_a_documented_422(
    client: TestClient, make_token, path: str, body: bytes
) -> None:
    admin = bearer(make_token("root", "admin", "*"))
    response = client.post(
        path, content=body, headers={**admin, "content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"].startswith("body")
    documented = client.get("/openapi.json").json()["paths"][path]["post"]["responses"]
    assert "422" in documented
    assert "400" not in documented


@pytest.mark.parametrize(
    ("path", "name"),
    [("/api/v1/audit", "until"), ("/api/v1/audit", "since"), ("/api/v1/lineage", "asOf")],
)
@pytest.mark.parametrize("value", ["0.5", "1700000000", "2026-12-01", "yesterday"])
def test_query_times_are_iso_8601_text_never_numbers(
    client: TestClient, make_token, path: str, name: str, value: str
) -> None:
    admin = bearer(make_token("root", "admin", "*"))
    params = {name: value, "nodeId": "job:skewless:x"}
    response = client.get(path, params=params, headers=admin)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == f"query.{name}"
    assert "ISO-8601" in response.json()["detail"]


def test_query_times_at_the_ends_of_the_calendar_are_answered(
    client: TestClient, make_token
) -> None:
    admin = bearer(make_token("root", "admin", "*"))
    for since, until in [
        ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"),
        ("2026-12-01T10:00:00", "2026-12-01T11:00:00.5Z"),  # naive means UTC
    ]:
        response = client.get(
            "/api/v1/audit", params={"since": since, "until": until}, headers=admin
        )
        assert response.status_code == 200, response.text


def test_an_event_type_that_is_no_string_is_a_422_not_a_500(client: TestClient, make_token) -> None:
    producer = bearer(make_token("producer", "producer", NAMESPACE))
    for event_type in ({}, [], 1, None):
        response = client.post(
            "/api/v1/lineage", json=_event(eventType=event_type), headers=producer
        )
        assert response.status_code == 422, response.text
        assert response.json()["field"] == "eventType"


def test_the_openapi_document_publishes_the_openlineage_event_schemas(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    body = document["paths"]["/api/v1/lineage"]["post"]["requestBody"]
    refs = [s["$ref"] for s in body["content"]["application/json"]["schema"]["oneOf"]]
    assert refs == [f"#/components/schemas/{n}" for n in ("RunEvent", "DatasetEvent", "JobEvent")]
    schemas = document["components"]["schemas"]
    run_event = schemas["RunEvent"]
    assert set(run_event["required"]) == {
        "eventTime",
        "producer",
        "schemaURL",
        "eventType",
        "run",
        "job",
    }
    assert run_event["properties"]["eventType"]["enum"] == [
        "ABORT",
        "COMPLETE",
        "FAIL",
        "OTHER",
        "RUNNING",
        "START",
    ]
    assert schemas["Run"]["properties"]["runId"]["format"] == "uuid"
    assert set(schemas["Job"]["required"]) == {"namespace", "name"}
    assert "inputFacets" in schemas["InputDataset"]["properties"]
    assert "outputFacets" in schemas["OutputDataset"]["properties"]
    assert schemas["DatasetFacets"]["additionalProperties"] == {"type": "object"}  # open facets
    assert schemas["DatasetEvent"]["not"] == {
        "anyOf": [{"required": ["run"]}, {"required": ["eventType"]}]
    }


def test_events_valid_under_the_published_schema_are_accepted(
    client: TestClient, make_token, golden
) -> None:
    import jsonschema_rs  # the validator schemathesis itself judges requests with

    document = client.get("/openapi.json").json()
    schema = {
        **document["paths"]["/api/v1/lineage"]["post"]["requestBody"]["content"][
            "application/json"
        ]["schema"],
        "components": document["components"],
    }
    validator = jsonschema_rs.Draft202012Validator(schema, validate_formats=True)
    producer = bearer(make_token("producer", "producer", "*"))
    for name in ("ingest_start", "ingest_complete", "dataset_event", "job_event"):
        event = golden(name)
        validator.validate(event)  # the golden events are what the schema describes
        response = client.post("/api/v1/lineage", json=event, headers=producer)
        assert response.status_code == 201, response.text
    assert not validator.is_valid({**golden("dataset_event"), "run": {"runId": "x"}})
