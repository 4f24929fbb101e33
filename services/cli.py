"""The ``skewless`` command line: thin Typer commands over the data-plane modules.

Exit codes, in one place (``_fail``): 0 success; 1 a verdict against the data
(batch rejected, parity mismatch, governance problems); 2 unusable input
(missing/corrupt file, unknown source, malformed request).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.errors import GovernanceError, InputError, RequestError, SkewlessError
from services.settings import Settings, get_settings

app = typer.Typer(
    help="Skewless: a governed feature store on Feast.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
audit_app = typer.Typer(help="Audits: parity, drift, freshness.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
console = Console()
err = Console(stderr=True)


def _fail(exc: Exception) -> NoReturn:
    if isinstance(exc, GovernanceError):
        for line in exc.problems:
            err.print(line, markup=False)
        raise typer.Exit(1)
    if isinstance(exc, InputError | RequestError):
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(2)
    err.print(f"error: {exc}", markup=False)
    raise typer.Exit(1)


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except SkewlessError as exc:
        _fail(exc)


def _settings(repo: Path | None = None) -> Settings:
    settings = get_settings()
    if repo is not None:
        settings = settings.model_copy(update={"repo_path": repo})
    return settings


def _store(settings: Settings | None = None) -> Any:
    from services.store import Store

    return Store(settings or _settings())


@app.command("demo-data")
def demo_data(
    out: Annotated[Path, typer.Option(help="Directory to write the raw files to.")],
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    customers: Annotated[int, typer.Option(min=10, help="Number of customers.")] = 500,
    days: Annotated[int, typer.Option(min=2, help="Days of history.")] = 21,
) -> None:
    """Write realistic raw parquet files, one per source, plus entities.parquet."""
    from services.demo_data import write_demo_data

    files = write_demo_data(out, seed=seed, customers=customers, days=days)
    for name, path in files.paths.items():
        console.print(f"{name}: {path} ({files.invalid_rows[name]} invalid rows injected)")
    console.print(f"entities: {files.entities}")


@app.command()
def apply(
    repo: Annotated[
        Path | None, typer.Option(help="Feature repository (default: feature_repo/).")
    ] = None,
) -> None:
    """Lint the definitions for governance, then register them with Feast."""
    from services.governance import lint
    from services.store import load_definitions

    settings = _settings(repo)
    with _errors():
        if not settings.repo_path.is_dir():
            raise InputError(f"{settings.repo_path}: not a directory")
        definitions = load_definitions(settings.repo_path)
        problems = lint(definitions)
        if problems:
            raise GovernanceError(problems)
        store = _store(settings)
        store.apply(definitions)
        from services.lineage_events import emit_apply

        emit_apply(settings, store)
    console.print(
        f"applied {len(definitions.all())} objects to project [bold]{settings.project}[/]: "
        f"{len(definitions.feature_views)} feature views, "
        f"{len(definitions.on_demand_feature_views)} on-demand views, "
        f"{len(definitions.feature_services)} feature services"
    )


def _print_ingest(result: Any) -> None:
    table = Table(title=f"ingest {result.source}", show_header=False)
    for key, value in result.summary().items():
        table.add_row(key, str(value))
    table.add_row("accepted", "yes" if result.accepted else "[red]no: rejected[/]")
    table.add_row("online entities updated", str(result.online_entities))
    for check, count in sorted(result.failed_checks.items()):
        table.add_row(f"failed: {check}", str(count))
    console.print(table)


@app.command()
def ingest(
    source: Annotated[str, typer.Argument(help="Source name (a contract).")],
    path: Annotated[Path, typer.Argument(help="Parquet or CSV file.")],
    policy: Annotated[
        str | None, typer.Option(help="reject | quarantine (default: the contract's).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Validate a batch against its contract and write it offline and online."""
    from services.ingestion.gate import ingest_file

    if policy not in (None, "reject", "quarantine"):
        err.print(f"error: --policy must be reject or quarantine, not {policy!r}")
        raise typer.Exit(2)
    with _errors():
        result = ingest_file(_store(), source, path, policy=policy)  # type: ignore[arg-type]
    if as_json:
        print(json.dumps(result.summary()))
    else:
        _print_ingest(result)
    if not result.accepted:
        raise typer.Exit(1)


@app.command()
def datasets(
    source: Annotated[str, typer.Argument(help="Source name.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List the immutable dataset versions of a source."""
    from dataclasses import asdict

    from services.contracts import get_contract
    from services.offline.datasets import list_versions

    with _errors():
        get_contract(source)
        versions = list_versions(_settings().offline_dir, source)
    if as_json:
        print(json.dumps([asdict(v) for v in versions]))
        return
    table = Table("version", "created", "rows", "quarantined", "hash", title=f"{source} versions")
    for v in versions:
        table.add_row(v.version, v.created, str(v.rows), str(v.quarantined), v.content_hash[:16])
    console.print(table)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


@app.command()
def materialize(
    start: Annotated[datetime | None, typer.Option(help="Window start (UTC).")] = None,
    end: Annotated[datetime | None, typer.Option(help="Window end (UTC).")] = None,
    incremental: Annotated[
        bool, typer.Option(help="Only dataset versions not yet materialized.")
    ] = False,
    view: Annotated[list[str] | None, typer.Option(help="Only these views.")] = None,
) -> None:
    """Write the latest offline value of each entity to the online store."""
    from services.online.materialize import materialize as run

    if (start is None) != (end is None) or (incremental and start is not None):
        err.print("error: give --start and --end together, or --incremental, or neither")
        raise typer.Exit(2)
    store = _store()
    with _errors(), _progress() as progress:
        tasks: dict[str, Any] = {}

        def tick(name: str, rows: int) -> None:
            if name not in tasks:
                tasks[name] = progress.add_task(name, total=None)
            progress.advance(tasks[name], rows)

        results = run(
            store,
            views=view,
            start=_utc(start),
            end=_utc(end),
            incremental=incremental,
            progress=tick,
        )
    from services.lineage_events import emit_materialize

    emit_materialize(store.settings, results)
    table = Table("view", "entities written", "dataset versions", title="materialized")
    for r in results:
        table.add_row(r.view, str(r.entities), str(len(r.versions)))
    console.print(table)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return (
        pd.Timestamp(moment).tz_localize("UTC").to_pydatetime() if moment.tzinfo is None else moment
    )


def _read_entities(path: Path) -> pd.DataFrame:
    from services.ingestion.reader import read_batch

    frame = read_batch(path)
    if "event_timestamp" in frame and frame["event_timestamp"].dtype == object:
        frame["event_timestamp"] = pd.to_datetime(
            frame["event_timestamp"], utc=True, format="ISO8601"
        )
    for col in frame.columns:
        if isinstance(frame[col].dtype, pd.Int64Dtype) and not frame[col].isna().any():
            frame[col] = frame[col].astype("int64")
    return frame


@app.command("training-set")
def training_set(
    service: Annotated[str, typer.Option(help="Feature service.")],
    entities: Annotated[
        Path, typer.Option(help="Entity rows (parquet/CSV): keys, event_timestamp, request data.")
    ],
    out: Annotated[Path, typer.Option(help="Where to write the training frame (parquet).")],
    name: Annotated[str | None, typer.Option(help="Training-set name.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Build a point-in-time correct training set and record its version."""
    from dataclasses import asdict

    from services.sdk import Client

    with _errors():
        client = Client(_settings())
        frame, version = client.training_set(_read_entities(entities), service, name=name)
        out.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(out, index=False)
    if as_json:
        print(json.dumps({**asdict(version), "out": str(out)}))
        return
    console.print(f"training set [bold]{version.version}[/] ({version.rows} rows) -> {out}")
    console.print(f"dataset versions read: {version.dataset_versions}")


@app.command()
def online(
    service: Annotated[str, typer.Option(help="Feature service.")],
    entity: Annotated[list[str], typer.Option(help="KEY=VALUE, e.g. customer_id=1 (repeat).")],
    request: Annotated[
        list[str] | None, typer.Option(help="NAME=VALUE request data (repeat).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Look up online features for one entity row."""
    from services.sdk import Client

    def parse(items: list[str], cast: Any) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for item in items:
            key, _, value = item.partition("=")
            try:
                out.setdefault(key, []).append(cast(value))
            except ValueError:
                err.print(f"error: {item!r}: not a number")
                raise typer.Exit(2) from None
        return out

    with _errors():
        result = Client(_settings()).online_features(
            service, parse(entity, int), parse(request or [], float)
        )
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
    table = Table("feature", "value", "status", "event time", title=f"{service} (online)")
    for r in rows:
        table.add_row(r["feature"], str(r["value"]), r["status"], str(r["event_timestamp"] or ""))
    console.print(table)


@audit_app.command("parity")
def audit_parity(
    sample: Annotated[int, typer.Option(min=1, help="Entities sampled per view.")] = 200,
    all_entities: Annotated[
        bool, typer.Option("--all", help="Every entity, not a sample.")
    ] = False,
    service: Annotated[str | None, typer.Option(help="Only this feature service's views.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Prove online == offline (and == Feast's reads); exit 1 on any mismatch."""
    from dataclasses import asdict

    from services.audits.parity import audit_parity as run
    from services.lineage_events import emit_parity

    with _errors():
        report = run(_store(), service=service, sample=None if all_entities else sample)
    emit_parity(_settings(), report)
    if as_json:
        print(
            json.dumps(
                {
                    "at": report.at.isoformat(),
                    "passed": report.passed,
                    "views": [asdict(v) for v in report.views],
                },
                default=str,
            )
        )
    else:
        table = Table(
            "view",
            "entities",
            "cells",
            "mismatches",
            title=f"parity at {report.at:%Y-%m-%d %H:%M:%S}Z",
        )
        for v in report.views:
            table.add_row(
                v.view,
                str(v.entities),
                str(v.cells),
                f"[{'green' if not v.mismatches else 'red'}]{len(v.mismatches)}[/]",
            )
        console.print(table)
        for m in report.mismatches[:50]:
            console.print(
                f"MISMATCH {m.view} entity={m.entity} {m.feature}: online={m.online!r} "
                f"{m.against}={m.expected!r}",
                markup=False,
            )
    if not report.passed:
        raise typer.Exit(1)


@audit_app.command("drift")
def audit_drift(
    training_set: Annotated[str, typer.Option("--training-set", help="Training-set version id.")],
    since: Annotated[datetime | None, typer.Option(help="Only rows served since (UTC).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    report: Annotated[
        Path | None, typer.Option(help="Write an HTML report into this directory.")
    ] = None,
) -> None:
    """Compare served features with a training set, feature by feature; exit 1 on drift."""
    from services.audits.drift import audit_drift as run
    from services.audits.report import write_drift_report
    from services.lineage_events import emit_drift

    settings = _settings()
    with _errors():
        result = run(_store(settings), training_set, since=_utc(since))
    emit_drift(settings, result)
    page = write_drift_report(result, report) if report is not None else None
    if as_json:
        print(
            json.dumps(
                {
                    "training_set": result.training_set.version,
                    "service": result.service,
                    "dataset_drift": result.dataset_drift,
                    "drifted_features": result.drifted_features,
                    "reference_rows": result.reference_rows,
                    "current_rows": result.current_rows,
                    "report": None if page is None else str(page),
                    "features": [
                        {
                            "feature": f.feature,
                            "kind": f.kind,
                            "method": f.method,
                            "score": f.score,
                            "threshold": f.threshold,
                            "drifted": f.drifted,
                            "scores": f.scores,
                        }
                        for f in result.features
                    ],
                },
                default=str,
            )
        )
    else:
        table = Table(
            "feature",
            "method",
            "score",
            "threshold",
            "drift",
            title=f"drift vs {result.training_set.version} ({result.current_rows} served rows)",
        )
        for f in result.features:
            table.add_row(
                f.feature,
                f.method,
                f"{f.score:.4g}",
                str(f.threshold),
                "[red]DRIFT[/]" if f.drifted else "[green]ok[/]",
            )
        console.print(table)
        console.print(
            ("[red]dataset drift[/]" if result.dataset_drift else "[green]no dataset drift[/]")
            + (f"; report: {page}" if page else "")
        )
    if result.dataset_drift:
        raise typer.Exit(1)


@audit_app.command("freshness")
def audit_freshness(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Event-time age of the newest online value per view, against its SLO; exit 1 on a breach."""
    from dataclasses import asdict

    from services.audits.freshness import audit_freshness as run
    from services.lineage_events import emit_freshness

    settings = _settings()
    with _errors():
        views = run(_store(settings))
    emit_freshness(settings, views)
    if as_json:
        print(json.dumps([asdict(v) for v in views], default=str))
    else:
        table = Table(
            "view", "online entities", "newest age (h)", "SLO (h)", "expired share", "status"
        )
        for v in views:
            age = "-" if v.newest_age_s is None else f"{v.newest_age_s / 3600:.1f}"
            table.add_row(
                v.view,
                f"{v.online}/{v.entities}",
                age,
                f"{v.slo_s / 3600:.0f}",
                f"{v.expired_share:.1%}",
                "[red]BREACH[/]" if v.breached else "[green]ok[/]",
            )
        console.print(table)
    if any(v.breached for v in views):
        raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 6566,
    workers: Annotated[int, typer.Option(min=1)] = 1,
) -> None:
    """Run the feature server (no periodic worker recycling)."""
    import uvicorn

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
    customers: Annotated[int, typer.Option(min=10)] = 500,
    seed: Annotated[int, typer.Option()] = 7,
) -> None:
    """Run the whole flow on the embedded defaults and print what each step did."""
    from services.demo import run_demo

    if data_dir is not None:
        # The feature repo reads the data dir from the environment, like every process.
        os.environ["SKEWLESS_DATA_DIR"] = str(data_dir)
        get_settings.cache_clear()
    settings = _settings()
    with _errors():
        ok = run_demo(settings, console, customers=customers, seed=seed)
    if not ok:
        raise typer.Exit(1)


def _mount_lineage() -> None:
    try:
        from lineage.cli import app as lineage_app
    except ImportError:  # the lineage plane is optional in a data-plane-only install
        return
    app.add_typer(lineage_app, name="lineage", help="Lineage service, tokens and queries.")


_mount_lineage()


if __name__ == "__main__":  # pragma: no cover
    app(prog_name="skewless")
