"""The OpenLineage 2-0-2 event shapes ``POST /api/v1/lineage`` accepts, as OpenAPI components.

Documentation only: intake reads the raw body on its fast path and validates it with
``lineage.events`` (one pass, no model building), so these JSON schemas are published in the
OpenAPI document and never run on a request. They say exactly what ``lineage.events`` accepts,
so that a client, or a fuzzer generating from them, learns the real contract:

- a RunEvent has ``eventType`` (required here, though optional in the spec), ``run`` and ``job``;
  a body with ``run`` or ``eventType`` is read as a RunEvent;
- a DatasetEvent has ``dataset`` and neither ``run`` nor ``eventType``; a JobEvent has ``job``
  and none of ``run``, ``eventType``, ``dataset``;
- names are non-blank strings, ``runId`` a UUID, ``eventTime`` a date-time with an offset;
- facets are open objects (extra fields allowed, ``null`` taken as none); only the ``version``,
  ``schema`` and ``columnLineage`` dataset facets, which the graph is derived from, have a shape.
"""

from __future__ import annotations

from typing import Any

from lineage.events import EVENT_TYPES

SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
_REF = "#/components/schemas/{}"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(name)}


_NON_BLANK: dict[str, Any] = {"type": "string", "pattern": r"\S"}
_FACETS: dict[str, Any] = {
    "type": ["object", "null"],
    "description": "Facets by name; each an object with any fields (its _producer, _schemaURL).",
    "additionalProperties": {"type": "object"},
}
_DATASET_FACETS: dict[str, Any] = {
    **_FACETS,
    "properties": {
        "version": {
            "type": "object",
            "required": ["datasetVersion"],
            "properties": {"datasetVersion": _NON_BLANK},
        },
        "schema": {
            "type": "object",
            "properties": {
                "fields": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {"name": _NON_BLANK},
                    },
                }
            },
        },
        "columnLineage": {
            "type": "object",
            "required": ["fields"],
            "properties": {"fields": {"type": "object"}},
        },
    },
}


def _dataset(description: str, io_facets: str | None) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "namespace": _NON_BLANK,
        "name": _NON_BLANK,
        "facets": _ref("DatasetFacets"),
    }
    if io_facets is not None:
        properties[io_facets] = _FACETS
    return {
        "type": "object",
        "description": description,
        "required": ["namespace", "name"],
        "properties": properties,
    }


def _datasets(item: str) -> dict[str, Any]:
    return {"type": ["array", "null"], "items": _ref(item)}


_BASE_PROPERTIES: dict[str, Any] = {
    "eventTime": {
        "type": "string",
        "format": "date-time",
        "description": "When the event happened, with its offset (seconds may be omitted).",
    },
    "producer": {**_NON_BLANK, "description": "URI of the code that produced the event."},
    "schemaURL": {**_NON_BLANK, "description": f"e.g. {SCHEMA_URL}#/$defs/RunEvent"},
}
_BASE_REQUIRED = ["eventTime", "producer", "schemaURL"]


def _event(description: str, required: list[str], **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "required": [*_BASE_REQUIRED, *required],
        "properties": {**_BASE_PROPERTIES, **properties},
    }


def _none_of(*keys: str) -> dict[str, Any]:
    return {"not": {"anyOf": [{"required": [key]} for key in keys]}}


COMPONENTS: dict[str, dict[str, Any]] = {
    "RunEvent": _event(
        "A run changed state (OpenLineage 2-0-2 RunEvent).",
        ["eventType", "run", "job"],
        eventType={"type": "string", "enum": sorted(EVENT_TYPES)},
        run=_ref("Run"),
        job=_ref("Job"),
        inputs=_datasets("InputDataset"),
        outputs=_datasets("OutputDataset"),
    ),
    "DatasetEvent": {
        **_event(
            "A dataset's metadata changed, outside any run (OpenLineage 2-0-2 DatasetEvent).",
            ["dataset"],
            dataset=_ref("StaticDataset"),
        ),
        **_none_of("run", "eventType"),
    },
    "JobEvent": {
        **_event(
            "A job's metadata changed, outside any run (OpenLineage 2-0-2 JobEvent).",
            ["job"],
            job=_ref("Job"),
            inputs=_datasets("InputDataset"),
            outputs=_datasets("OutputDataset"),
        ),
        **_none_of("run", "eventType", "dataset"),
    },
    "Run": {
        "type": "object",
        "required": ["runId"],
        "properties": {"runId": {"type": "string", "format": "uuid"}, "facets": _FACETS},
    },
    "Job": {
        "type": "object",
        "required": ["namespace", "name"],
        "properties": {"namespace": _NON_BLANK, "name": _NON_BLANK, "facets": _FACETS},
    },
    "DatasetFacets": _DATASET_FACETS,
    "InputDataset": _dataset("A dataset a run or job reads.", "inputFacets"),
    "OutputDataset": _dataset("A dataset a run or job writes.", "outputFacets"),
    "StaticDataset": _dataset("The dataset of a DatasetEvent.", None),
}

REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "An OpenLineage 2-0-2 RunEvent, DatasetEvent or JobEvent.",
        "content": {
            "application/json": {
                "schema": {"oneOf": [_ref(n) for n in ("RunEvent", "DatasetEvent", "JobEvent")]}
            }
        },
    }
}


def add_event_components(openapi: dict[str, Any]) -> dict[str, Any]:
    """Add the event schemas to an OpenAPI document's components (which the route refers to)."""
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(COMPONENTS)
    return openapi
