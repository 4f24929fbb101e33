"""Validation of incoming OpenLineage events (spec 2-0-2) into a small typed form.

Owns what a valid RunEvent, DatasetEvent or JobEvent is. Every failure raises ``InvalidEvent``
naming the dotted path of the first failing field. Facets are kept as opaque JSON; only the ones
the graph derives from (``version``, ``schema``, ``columnLineage``) are shape-checked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lineage.errors import InvalidEvent

EVENT_TYPES = frozenset({"START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"})
TERMINAL_STATES = frozenset({"COMPLETE", "ABORT", "FAIL"})


@dataclass(frozen=True)
class DatasetRecord:
    """A dataset as an event mentions it."""

    namespace: str
    name: str
    facets: dict[str, Any]
    io_facets: dict[str, Any]

    @property
    def aliases(self) -> list[tuple[str, str]]:
        """The (namespace, name) pairs its ``symlinks`` facet claims, itself left out."""
        facet = self.facets.get("symlinks")
        found = facet.get("identifiers") if isinstance(facet, dict) else None
        return [
            (item["namespace"], item["name"])
            for item in (found if isinstance(found, list) else [])
            if isinstance(item, dict)
            and all(isinstance(item.get(k), str) and item[k] for k in ("namespace", "name"))
            and (item["namespace"], item["name"]) != (self.namespace, self.name)
        ]


@dataclass(frozen=True)
class ParsedEvent:
    """A validated event: kind is ``run``, ``dataset`` or ``job``."""

    kind: str
    event_time: datetime
    event_type: str | None
    run_id: str | None
    run_facets: dict[str, Any]
    job_namespace: str | None
    job_name: str | None
    job_facets: dict[str, Any]
    inputs: tuple[DatasetRecord, ...] = ()
    outputs: tuple[DatasetRecord, ...] = ()
    dataset: DatasetRecord | None = None
    namespaces: frozenset[str] = field(default_factory=frozenset)
    # The ParentRunFacet's (parent run id, parent job namespace, parent job name), if any.
    parent: tuple[str, str, str] | None = None
    # Namespaces of inputs its producer may not write: read, recorded as job edges, never
    # written to (set by the intake once the producer is known).
    read_only: frozenset[str] = field(default_factory=frozenset)

    @property
    def written_namespaces(self) -> frozenset[str]:
        """What the producer must be granted to write: its job's, outputs', parent's, dataset's.

        The namespaces a written dataset's ``symlinks`` name are written too: an alias is a name
        claimed there (a name in ``secret`` resolving to another namespace's dataset). Inputs
        are read, not written: a pipeline may read raw data in a namespace it does not own (an
        ``s3://`` bucket); the read is recorded, nothing there changes. (An input in a namespace
        its producer may write does keep its facets, so the intake checks its aliases too.)
        """
        written = [*self.outputs, *([self.dataset] if self.dataset is not None else [])]
        out = {d.namespace for d in written}
        out |= {namespace for d in written for namespace, _ in d.aliases}
        if self.job_namespace is not None:
            out.add(self.job_namespace)
        if self.parent is not None:
            out.add(self.parent[1])
        return frozenset(out)

    @property
    def subject(self) -> str:
        """The node id the event is about: its dataset for a DatasetEvent, else its job."""
        if self.dataset is not None:
            return f"dataset:{self.dataset.namespace}:{self.dataset.name}"
        return f"job:{self.job_namespace}:{self.job_name}"


def _obj(value: Any, path: str, *, required: bool = True) -> dict[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise InvalidEvent(
            field=path, reason="required object" if value is None else "not an object"
        )
    return value


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidEvent(field=path, reason="required non-empty string")
    return value


NAME_MAX = 400  # characters of a namespace or name the store keeps (``String(400)``)
VERSION_MAX = 200  # of a dataset version (``String(200)``)


def _name(value: Any, path: str, limit: int = NAME_MAX) -> str:
    """A required name that fits the store: longer is a 422 naming the field, not a refusal."""
    text = _text(value, path)
    if len(text) > limit:
        raise InvalidEvent(field=path, reason=f"longer than {limit} characters ({len(text)})")
    return text


def _event_time(value: Any) -> datetime:
    text = _text(value, "eventTime")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidEvent(field="eventTime", reason="not an ISO-8601 date-time") from None
    if parsed.tzinfo is None:
        raise InvalidEvent(field="eventTime", reason="date-time needs a timezone offset")
    try:
        # Stored in UTC: an offset can carry a valid-looking time (9999-12-31T23:59:59-01:00)
        # past what Python and the database columns hold, breaking every later read of it.
        parsed.astimezone(UTC)
    except OverflowError:
        raise InvalidEvent(
            field="eventTime", reason="date-time must fall within 0001-01-01..9999-12-31 UTC"
        ) from None
    return parsed


def _facets(value: Any, path: str) -> dict[str, Any]:
    facets = _obj(value, path, required=False)
    for key, facet in facets.items():
        _obj(facet, f"{path}.{key}")
    return facets


def _check_dataset_facets(facets: dict[str, Any], path: str) -> None:
    if "version" in facets:
        _name(
            facets["version"].get("datasetVersion"), f"{path}.version.datasetVersion", VERSION_MAX
        )
    if "schema" in facets:
        fields = facets["schema"].get("fields", [])
        if not isinstance(fields, list):
            raise InvalidEvent(field=f"{path}.schema.fields", reason="not a list")
        for i, item in enumerate(fields):
            _text(
                _obj(item, f"{path}.schema.fields[{i}]").get("name"),
                f"{path}.schema.fields[{i}].name",
            )
    if "columnLineage" in facets:
        _obj(facets["columnLineage"].get("fields"), f"{path}.columnLineage.fields")


def _dataset(value: Any, path: str, io_key: str | None) -> DatasetRecord:
    ds = _obj(value, path)
    facets = _facets(ds.get("facets"), f"{path}.facets")
    _check_dataset_facets(facets, f"{path}.facets")
    io_facets = _facets(ds.get(io_key), f"{path}.{io_key}") if io_key else {}
    return DatasetRecord(
        namespace=_name(ds.get("namespace"), f"{path}.namespace"),
        name=_name(ds.get("name"), f"{path}.name"),
        facets=facets,
        io_facets=io_facets,
    )


def _datasets(value: Any, path: str, io_key: str) -> tuple[DatasetRecord, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidEvent(field=path, reason="not a list")
    return tuple(_dataset(item, f"{path}[{i}]", io_key) for i, item in enumerate(value))


def _run_id(run: dict[str, Any]) -> str:
    text = _text(run.get("runId"), "run.runId")
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise InvalidEvent(field="run.runId", reason="not a UUID") from None


def validate_event(event: Any) -> ParsedEvent:
    """Validate an OpenLineage RunEvent, DatasetEvent or JobEvent.

    Args:
        event: The decoded JSON body.

    Returns:
        The parsed event, including every namespace it touches.

    Raises:
        InvalidEvent: naming the first failing field.

    """
    body = _obj(event, "$")
    when = _event_time(body.get("eventTime"))
    _text(body.get("producer"), "producer")
    _text(body.get("schemaURL"), "schemaURL")
    if "run" in body or "eventType" in body:
        return _run_event(body, when)
    if "dataset" in body:
        ds = _dataset(body.get("dataset"), "dataset", None)
        return ParsedEvent(
            kind="dataset",
            event_time=when,
            event_type=None,
            run_id=None,
            run_facets={},
            job_namespace=None,
            job_name=None,
            job_facets={},
            dataset=ds,
            namespaces=frozenset({ds.namespace}),
        )
    if "job" in body:
        return _job_event(body, when)
    raise InvalidEvent(field="run", reason="required: a RunEvent needs run, job and eventType")


def _job(body: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    job = _obj(body.get("job"), "job")
    return (
        _name(job.get("namespace"), "job.namespace"),
        _name(job.get("name"), "job.name"),
        _facets(job.get("facets"), "job.facets"),
    )


def _parent(run_facets: dict[str, Any]) -> tuple[str, str, str] | None:
    """The ParentRunFacet's parent run and job (validated when the facet is there)."""
    facet = run_facets.get("parent")
    if facet is None:
        return None
    path = "run.facets.parent"
    parent_run = _obj(facet.get("run"), f"{path}.run")
    try:
        parent_id = str(uuid.UUID(_text(parent_run.get("runId"), f"{path}.run.runId")))
    except ValueError:
        raise InvalidEvent(field=f"{path}.run.runId", reason="not a UUID") from None
    job = _obj(facet.get("job"), f"{path}.job")
    return (
        parent_id,
        _name(job.get("namespace"), f"{path}.job.namespace"),
        _name(job.get("name"), f"{path}.job.name"),
    )


def _run_event(body: dict[str, Any], when: datetime) -> ParsedEvent:
    run = _obj(body.get("run"), "run")
    run_id = _run_id(run)
    run_facets = _facets(run.get("facets"), "run.facets")
    parent = _parent(run_facets)
    if parent is not None and parent[0] == run_id:
        raise InvalidEvent(
            field="run.facets.parent.run.runId", reason="a run is not its own parent"
        )
    ns, name, job_facets = _job(body)
    event_type = body.get("eventType")
    if not isinstance(event_type, str) or event_type not in EVENT_TYPES:  # {} is unhashable
        raise InvalidEvent(field="eventType", reason=f"must be one of {sorted(EVENT_TYPES)}")
    inputs = _datasets(body.get("inputs"), "inputs", "inputFacets")
    outputs = _datasets(body.get("outputs"), "outputs", "outputFacets")
    return ParsedEvent(
        kind="run",
        event_time=when,
        event_type=str(event_type),
        run_id=run_id,
        run_facets=run_facets,
        job_namespace=ns,
        job_name=name,
        job_facets=job_facets,
        inputs=inputs,
        outputs=outputs,
        namespaces=frozenset(
            {ns, *(d.namespace for d in (*inputs, *outputs)), *([parent[1]] if parent else [])}
        ),
        parent=parent,
    )


def _job_event(body: dict[str, Any], when: datetime) -> ParsedEvent:
    ns, name, job_facets = _job(body)
    inputs = _datasets(body.get("inputs"), "inputs", "inputFacets")
    outputs = _datasets(body.get("outputs"), "outputs", "outputFacets")
    return ParsedEvent(
        kind="job",
        event_time=when,
        event_type=None,
        run_id=None,
        run_facets={},
        job_namespace=ns,
        job_name=name,
        job_facets=job_facets,
        inputs=inputs,
        outputs=outputs,
        namespaces=frozenset({ns, *(d.namespace for d in (*inputs, *outputs))}),
    )
