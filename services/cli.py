"""The ``skewless`` command line: thin Typer commands over the data-plane modules.

Exit codes are chosen in one place, ``services.cli_common.fail``; the audit commands live in
``services.cli_audit`` and the lineage commands in ``lineage.cli``.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Collection
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lineage.cli import app as lineage_app
from lineage.cli import console_command
from lineage.cli_render import folded_table
from services.cli_audit import audit_app
from services.cli_common import (
    JSON_HELP,
    console,
    err,
    errors,
    note_unapplied,
    open_store,
    settings_for,
    utc,
)
from services.cli_ingest import ingest_command
from services.cli_online import online_command, parse_value
from services.cli_progress import ProgressDisplay
from services.cli_repo import contracts_app, feast_yaml_command, init_command
from services.errors import GovernanceError, InputError
from services.settings import reset_settings

if TYPE_CHECKING:
    import pandas as pd

app = typer.Typer(
    help="Skewless: a governed feature store on Feast.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(audit_app, name="audit")
app.add_typer(contracts_app, name="contracts")


def _version(show: bool) -> None:
    if show:
        from importlib.metadata import version

        typer.echo(f"skewless {version('skewless')} (feast {version('feast')})")
        raise typer.Exit()


@app.callback()
def _main(
    show_version: bool = typer.Option(
        False,
        "--version",
        callback=_version,
        is_eager=True,
        help="Print Skewless's and Feast's versions and exit.",
    ),
) -> None:
    """Skewless: a governed feature store on Feast."""


app.command("init")(init_command)
app.command("feast-yaml")(feast_yaml_command)
app.command("ingest")(ingest_command)
app.command("online")(online_command)


@app.command("demo-data")
def demo_data(
    out: Annotated[Path, typer.Option(help="Directory to write the raw files to.")],
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    size: Annotated[
        int, typer.Option(min=10, help="How many entities the repository's generator makes.")
    ] = 500,
    days: Annotated[int, typer.Option(min=2, help="Days of history.")] = 21,
) -> None:
    """Write the repository's demo raw files (its DEMO plan), one per source, plus entities."""
    from services.demo import demo_plan

    with errors():
        write = demo_plan(settings_for())["write_data"]
    files = write(out, seed=seed, size=size, days=days)
    for name, path in files.paths.items():
        console.print(f"{name}: {path} ({files.invalid_rows[name]} invalid rows injected)")
    console.print(f"entities: {files.entities}")


@app.command()
def apply(
    repo: Annotated[
        Path | None, typer.Option(help="Feature repository (default: SKEWLESS_REPO_PATH).")
    ] = None,
) -> None:
    """Lint the definitions for governance, then register them with Feast."""
    from services.governance import lint
    from services.repository import load_repository

    settings = settings_for(repo)
    with errors(settings):
        if not settings.repo_path.is_dir():
            raise InputError(f"{settings.repo_path}: not a directory")
        repository = load_repository(settings.repo_path)
        definitions = repository.definitions
        problems = lint(definitions, repository.contracts)
        if problems:
            raise GovernanceError(problems)
        store = open_store(settings, note=False)
        removed = store.apply(definitions, pin=settings.repo_path)
        from services.lineage_events import emit_apply
        from services.serving_plan import write_serving_plan

        write_serving_plan(store)
        emit_apply(settings, store)
    for view in definitions.not_applied:
        err.print(
            f"warning: not applied: {type(view).__name__} {view.name!r} (Skewless registers "
            "entities, sources, feature views, on-demand views and feature services)",
            markup=False,
        )
    from services.apply_plan import kind_of

    for gone in removed:
        console.print(
            f"removed: {kind_of(gone)} {gone.name!r} (no longer in the repository)", markup=False
        )
    console.print(
        f"applied {len(definitions.all())} objects to project [bold]{settings.project}[/]: "
        f"{len(definitions.feature_views)} feature views, "
        f"{len(definitions.on_demand_feature_views)} on-demand views, "
        f"{len(definitions.feature_services)} feature services"
    )


@app.command()
def datasets(
    source: Annotated[str, typer.Argument(help="Source name.")],
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """List the immutable dataset versions of a source."""
    from dataclasses import asdict

    from services.offline.versions import list_versions

    settings = settings_for()
    with errors():
        # The manifests alone answer a source with versions; only an empty answer pays for
        # loading the repository (Feast, Pandera), to tell "no versions yet" from "no such source".
        plain = Path(source).name == source and not source.startswith((".", "_"))
        versions = list_versions(settings.offline_dir, source) if plain else []
        if not versions:
            from services.applied import repository_path
            from services.repository import load_repository

            load_repository(repository_path(settings)).contract(source)
    if as_json:
        print(json.dumps([asdict(v) for v in versions]))
        return
    table = folded_table(
        "version", "created", "rows", "quarantined", "hash", title=f"{source} versions"
    )
    for v in versions:
        table.add_row(v.version, v.created, str(v.rows), str(v.quarantined), v.content_hash[:16])
    console.print(table)


@app.command()
def materialize(
    start: Annotated[datetime | None, typer.Option(help="Window start (UTC).")] = None,
    end: Annotated[datetime | None, typer.Option(help="Window end (UTC).")] = None,
    incremental: Annotated[
        bool, typer.Option(help="Only dataset versions not yet materialized.")
    ] = False,
    view: Annotated[list[str] | None, typer.Option(help="Only these views.")] = None,
) -> None:
    """Write the latest offline value of each entity to the online store.

    On a terminal, stderr shows the rows written so far for each view.
    """
    from services.online.materialize import materialize as run

    if (start is None) != (end is None) or (incremental and start is not None):
        err.print("error: give --start and --end together, or --incremental, or neither")
        raise typer.Exit(2)
    window = (utc(start), utc(end))
    if window[0] is not None and window[1] is not None and window[0] > window[1]:
        err.print(f"error: --start {window[0].isoformat()} is after --end {window[1].isoformat()}")
        raise typer.Exit(2)
    settings = settings_for()
    with errors(settings), ProgressDisplay() as display:
        store = open_store(settings)

        def tick(name: str, rows: int) -> None:
            display.advance(name, rows, unit="rows")

        results = run(
            store,
            views=view,
            start=window[0],
            end=window[1],
            incremental=incremental,
            progress=tick,
        )
    from services.lineage_events import emit_materialize

    emit_materialize(store.settings, results)
    table = folded_table("view", "entities written", "dataset versions", title="materialized")
    for r in results:
        table.add_row(r.view, str(r.entities), str(len(r.versions)))
    console.print(table)


def _entity_times(column: pd.Series) -> pd.Series:
    """Text timestamps as UTC; the first that is not ISO 8601 is named by its row."""
    import pandas as pd

    from services.errors import EntityKeyError

    try:
        return pd.to_datetime(column, utc=True, format="ISO8601")
    except ValueError:  # pandas' message runs over lines of advice: name the row instead
        for row, text in enumerate(column):
            try:
                pd.to_datetime(text, utc=True, format="ISO8601")
            except ValueError:
                raise EntityKeyError(
                    "event_timestamp", f"row {row}: {text!r} is not an ISO 8601 timestamp"
                ) from None
        raise EntityKeyError("event_timestamp", "not ISO 8601 timestamps") from None


def _read_entities(path: Path, types: dict[str, Any], keys: Collection[str]) -> pd.DataFrame:
    """An entity file; CSV text is read as the declared type of each key and request field.

    Only CSV is text: a parquet column keeps its values, which the training set then checks
    as serving checks a request (a string ``'1001'`` is no Int64 key there either).
    """
    import pandas as pd

    from services.errors import EntityKeyError, RequestDataError
    from services.ingestion.reader import CSV_SUFFIXES, read_batch

    frame = read_batch(path)
    text = path.suffix.lower() in CSV_SUFFIXES
    if "event_timestamp" in frame and frame["event_timestamp"].dtype == object:
        frame["event_timestamp"] = _entity_times(frame["event_timestamp"])
    for col in frame.columns:
        if text and col in types:  # CSV text: the declared type parses
            values = []
            for row, cell in enumerate(frame[col]):
                try:
                    values.append(None if pd.isna(cell) else parse_value(str(cell), types[col]))
                except ValueError:
                    reason = f"row {row}: {cell!r} is not of type {types[col]}"
                    error = EntityKeyError if col in keys else RequestDataError
                    raise error(col, reason) from None
            frame[col] = pd.Series(values, dtype=types[col].pandas_dtype(nullable=True))
        if isinstance(frame[col].dtype, pd.Int64Dtype) and not frame[col].isna().any():
            frame[col] = frame[col].astype("int64")
        if isinstance(frame[col].dtype, pd.Int32Dtype) and not frame[col].isna().any():
            frame[col] = frame[col].astype("int32")
    return frame


@app.command("training-set")
def training_set(
    service: Annotated[str, typer.Option(help="Feature service.")],
    entities: Annotated[
        Path, typer.Option(help="Entity rows (parquet/CSV): keys, event_timestamp, request data.")
    ],
    out: Annotated[Path, typer.Option(help="Where to write the training frame (parquet).")],
    name: Annotated[str | None, typer.Option(help="Training-set name.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Build a point-in-time correct training set and record its version.

    On a terminal, stderr shows the step under way: opening the store, reading the entity rows,
    resolving the service, each view's point-in-time join, recording the version and its
    lineage, writing OUT.
    """
    from dataclasses import asdict

    from services.sdk import Client

    with errors(), ProgressDisplay(show=not as_json) as display:

        def step(description: str) -> None:
            display.advance("training set", description=description, unit="steps")

        step("opening the feature store")
        settings = settings_for()
        note_unapplied(settings)
        client = Client(settings)
        plan = client.plan(service)
        types = {**plan.key_types, **{f.name: f.type for f in plan.request_fields}}
        step(f"reading {entities.name}")
        rows = _read_entities(entities, types, plan.key_types)
        frame, version = client.training_set(rows, service, name=name, steps=step)
        step(f"writing {out.name}")
        out.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(out, index=False)
    if as_json:
        print(json.dumps({**asdict(version), "out": str(out)}))
        return
    console.print(f"training set [bold]{version.version}[/] ({version.rows} rows) -> {out}")
    read = "; ".join(f"{s} {', '.join(v)}" for s, v in sorted(version.dataset_versions.items()))
    console.print(f"dataset versions read: {read or 'none'}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 6566,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Run the feature server (no periodic worker recycling)."""
    import uvicorn

    settings_for()  # refuse bad settings here, in one line, not in a worker's traceback
    uvicorn.run(
        "services.serving.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


@app.command()
def demo(
    data_dir: Annotated[
        Path | None, typer.Option(help="Data directory (default SKEWLESS_DATA_DIR).")
    ] = None,
    size: Annotated[
        int, typer.Option(min=10, help="How many entities the repository's generator makes.")
    ] = 500,
    seed: Annotated[int, typer.Option(help="Seed of the generated rows.")] = 7,
) -> None:
    """Run the whole flow on the embedded defaults and print what each step did."""
    from services.demo import run_demo

    if data_dir is not None:
        # The feature repo reads the data dir from the environment, like every process.
        os.environ["SKEWLESS_DATA_DIR"] = str(data_dir)
        reset_settings()
    settings = settings_for()
    with errors():
        ok = run_demo(settings, console, size=size, seed=seed)
    if not ok:
        raise typer.Exit(1)


app.command("console")(console_command)
app.add_typer(lineage_app, name="lineage", help="Lineage service, tokens and queries.")


def _reflow(group: typer.Typer) -> None:
    """Give every command its help with each paragraph on one line, so that Rich wraps it.

    Typer's rich help keeps a docstring's line breaks, so a paragraph wrapped at 100 columns in
    the source came out ragged on an 80-column terminal.
    """
    for command in group.registered_commands:
        text = command.help or inspect.getdoc(command.callback) or ""
        paragraphs = text.strip().split("\n\n")
        command.help = "\n\n".join(" ".join(p.split()) for p in paragraphs)
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            _reflow(sub.typer_instance)


_reflow(app)


if __name__ == "__main__":  # pragma: no cover
    app(prog_name="skewless")
