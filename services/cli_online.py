"""``skewless online``: one entity row's online features, from the serving plan when it is current.

With a current plan (:mod:`services.serving_plan`) the command imports neither Feast nor the
repository (:mod:`services.online.planned`); otherwise it resolves the service through Feast's
registry and the repository, as the SDK does, and writes a fresh plan for the next call.
"""

from __future__ import annotations

import json
from contextlib import suppress
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lineage.cli_render import folded_table
from services.cli_common import JSON_HELP, console, err, errors, note_unapplied, settings_for
from services.errors import InputError

if TYPE_CHECKING:
    from services.online.answer import OnlineResult
    from services.reads import ServicePlan
    from services.settings import Settings


def parse_value(text: str, ftype: Any) -> Any:
    """A command-line value as its declared type (text for String, JSON for documents)."""
    if ftype.is_integer:
        return int(text)
    if ftype.is_float:
        return float(text)
    if ftype.name == "Bool":
        if text.lower() not in ("true", "false"):
            raise ValueError("expected true or false")
        return text.lower() == "true"
    if ftype.name == "String":
        return text
    return json.loads(text)


def _parse_pairs(items: list[str], types: dict[str, Any], flag: str) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise InputError(f"{flag} {item!r}: expected NAME=VALUE")
        if key not in types:
            raise InputError(f"{flag} {key!r}: not one of {sorted(types)}")
        try:
            out.setdefault(key, []).append(parse_value(value, types[key]))
        except ValueError as exc:
            raise InputError(f"{flag} {item!r}: not of type {types[key]} ({exc})") from None
    return out


def _parse_request(
    plan: ServicePlan, entity: list[str], request: list[str]
) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    types = {**plan.key_types, **{f.name: f.type for f in plan.request_fields}}
    return _parse_pairs(entity, types, "--entity"), _parse_pairs(request, types, "--request")


def _online_resolved(
    settings: Settings, service: str, entity: list[str], request: list[str]
) -> tuple[OnlineResult, list[str]]:
    """The full path: Feast's registry and the repository; refreshes a stale serving plan."""
    from services.online.planned import lost_planned_views
    from services.plan_stamp import current_stamp
    from services.sdk import Client
    from services.serving_plan import write_serving_plan

    stamp = current_stamp(settings)  # before anything is read: a change meanwhile stays stale
    client = Client(settings)
    plan = client.plan(service)
    entities, requests = _parse_request(plan, entity, request)
    result = client.online_features(service, entities, requests)
    lost = lost_planned_views(client.reader, plan)
    if stamp is not None:
        with suppress(OSError):  # a read-only data dir only loses the next call's speed
            write_serving_plan(client.store, stamp)
    return result, lost


def online_command(
    service: Annotated[str, typer.Option(help="Feature service.")],
    entity: Annotated[list[str], typer.Option(help="JOIN_KEY=VALUE, one per join key (repeat).")],
    request: Annotated[
        list[str] | None, typer.Option(help="NAME=VALUE request data (repeat).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Look up online features for one entity row."""
    from services.online.answer import online_features
    from services.online.planned import lost_planned_views, open_planned

    settings = settings_for()
    with errors():
        note_unapplied(settings)
        planned = open_planned(settings, service)
        if planned is None:  # no current serving plan: resolve the service afresh
            result, lost = _online_resolved(settings, service, entity, request or [])
        else:
            plan, reader = planned
            try:
                plan.output_names()  # two views' same name: refused, as the full path does
                entities, requests = _parse_request(plan, entity, request or [])
                result = online_features(reader, plan, entities, requests)
                lost = lost_planned_views(reader, plan)
            finally:
                reader.close()
    if lost:  # NOT_FOUND below may be a loss, not an unknown entity: say so
        from services.online.state import lost_state_reason

        err.print(f"warning: {lost_state_reason(lost)}", markup=False)
    rows = [
        {
            "feature": c.name,
            "value": c.values[0],
            "status": c.statuses[0],
            "event_timestamp": None
            if c.event_timestamps[0] is None
            else c.event_timestamps[0].isoformat(),
        }
        for c in result.columns
    ]
    if as_json:
        print(json.dumps(rows, default=str))
        return
    table = folded_table("feature", "value", "status", "event time", title=f"{service} (online)")
    for r in rows:
        table.add_row(r["feature"], str(r["value"]), r["status"], str(r["event_timestamp"] or ""))
    console.print(table)
