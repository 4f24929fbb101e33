"""A ``symlinks`` facet claims names in the namespaces it lists: the producer must write there.

A producer granted only ``other`` could claim ``secret:hive.alias`` for its own dataset (201),
after which ``secret``'s own producer could no longer give that name to its dataset (the first
claim held) and a reader of ``secret:hive.alias`` was led to ``other:daily``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.lineage.test_lineage_api import bearer, run_event

LINEAGE = "/api/v1/lineage"
FACET = {"_producer": "tests", "_schemaURL": "https://x/facet.json"}


def _aliased(event: dict[str, Any], side: str, namespace: str, name: str) -> dict[str, Any]:
    event[side][0]["facets"]["symlinks"] = {
        **FACET,
        "identifiers": [{"namespace": namespace, "name": name, "type": "TABLE"}],
    }
    return event


def test_an_alias_in_a_namespace_the_producer_may_not_write_is_403(
    client: TestClient, make_token: Callable[..., str]
) -> None:
    other, secret = make_token("po", "producer", "other"), make_token("ps", "producer", "secret")
    admin = make_token("adm", "admin")
    claim = _aliased(
        run_event("other", "daily", "01", [], [("daily", "v1")]), "outputs", "secret", "hive.alias"
    )
    refused = client.post(LINEAGE, json=claim, headers=bearer(other))
    assert refused.status_code == 403, refused.text
    assert "secret" in refused.text
    # An input in its own namespace keeps its facets, so its aliases are claims too.
    read = _aliased(run_event("other", "read", "02", [("raw", "v1")], []), "inputs", "secret", "x")
    assert client.post(LINEAGE, json=read, headers=bearer(other)).status_code == 403

    own = _aliased(
        run_event("secret", "extract", "03", [], [("pii", "v1")]), "outputs", "secret", "hive.alias"
    )
    assert client.post(LINEAGE, json=own, headers=bearer(secret)).status_code == 201
    graph = client.get(
        LINEAGE, params={"nodeId": "dataset:secret:hive.alias"}, headers=bearer(admin)
    )
    assert graph.status_code == 200, graph.text
    assert "dataset:secret:pii" in {n["id"] for n in graph.json()["graph"]}
    assert "dataset:other:daily" not in {n["id"] for n in graph.json()["graph"]}
