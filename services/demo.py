"""``skewless demo``: the whole flow on the embedded defaults, step by step.

demo-data -> ingest -> apply -> materialize -> late correction -> training set ->
online lookup -> parity audit -> lineage summary. Every step is the real code
path; the demo only chains them and prints what each did.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from lineage.cli_render import folded_table
from services.audits.parity import audit_parity
from services.errors import InputError
from services.governance import lint
from services.ingestion.gate import ingest_file, ingest_frame
from services.lineage_events import emit_apply, emit_materialize, lineage_summary
from services.offline.datasets import list_versions
from services.online.materialize import materialize
from services.repository import load_repository
from services.sdk import Client
from services.serving_plan import write_serving_plan
from services.settings import Settings


def demo_plan(settings: Settings) -> dict[str, Any]:
    """The repository's ``DEMO`` plan (its ``demo_data.py``): what to generate and show."""
    repo = load_repository(settings.repo_path)
    plan = repo.demo
    if plan is None:
        raise InputError(
            f"feature repo {settings.repo_path}: no DEMO plan (a DEMO dict in demo_data.py)"
        )
    return plan


def run_demo(settings: Settings, console: Console, *, size: int = 500, seed: int = 7) -> bool:
    """Run every step; return True when the parity audit passed."""
    demo = demo_plan(settings)
    service = str(demo["service"])
    console.print(
        Panel.fit(
            f"Skewless demo in [bold]{settings.data_dir}[/] (online store: {settings.online_store})"
        )
    )
    facts: list[tuple[str, str]] = []
    results: dict[str, Any] = {}
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    steps: list[tuple[str, Callable[[], str]]] = []

    def raw_data() -> str:
        files = demo["write_data"](settings.data_dir / "raw", seed=seed, size=size)
        results["files"] = files
        return (
            f"{len(files.paths)} sources, {sum(files.invalid_rows.values())} invalid rows injected"
        )

    def ingest() -> str:
        client = Client(settings)
        results["client"] = client
        out = []
        for name, path in results["files"].paths.items():
            r = ingest_file(client.store, name, path)
            out.append(
                f"{name}: {r.received} received = {r.written} written + {r.quarantined} quarantined"
            )
        return "; ".join(out)

    def apply() -> str:
        repo = load_repository(settings.repo_path)
        definitions = repo.definitions
        problems = lint(definitions, repo.contracts)
        if problems:
            raise RuntimeError("governance lint failed:\n" + "\n".join(problems))
        results["client"].store.apply(definitions, pin=settings.repo_path)
        write_serving_plan(results["client"].store)
        emit_apply(settings, results["client"].store)
        return f"{len(definitions.all())} objects, 0 governance problems"

    def materialize_step() -> str:
        res = materialize(results["client"].store)
        emit_materialize(settings, res)
        return ", ".join(f"{r.view}: {r.entities} entities" for r in res)

    def late() -> str:
        source = str(demo["late_source"])
        latest = pd.read_parquet(list_versions(settings.offline_dir, source)[-1].path)
        fix = demo["late_corrections"](latest, 20)
        r = ingest_frame(results["client"].store, source, fix, origin="late corrections")
        return (
            f"{r.written} same-timestamp corrections ingested; "
            f"{r.online_entities} entities updated online"
        )

    def training() -> str:
        entities = pd.read_parquet(results["files"].entities)
        frame, version = results["client"].training_set(
            entities, service, name=str(demo["training_set"])
        )
        results["training"] = (frame, version)
        # The model version names its training set, so a re-run on the same data registers the
        # same version again (idempotent) and a run on new data a new one, never a conflict.
        model, model_version = str(demo["model"]), f"1-{version.version}"
        results["client"].register_model(model, model_version, version.version, {"auc": 0.91})
        results["client"].register_deployment(model, model_version, "demo", service)
        return (
            f"{version.version}: {version.rows} rows x {frame.shape[1]} columns, input order kept"
        )

    def lookup() -> str:
        keys = demo["lookup_entities"]
        res = results["client"].online_features(service, keys, demo.get("lookup_request"))
        results["online"] = res
        present = sum(c.statuses[0] == "PRESENT" for c in res.columns)
        who = ", ".join(f"{k}={v[0]}" for k, v in keys.items())
        return f"{who}: {present} of {len(res.columns)} values PRESENT"

    def parity() -> str:
        report = audit_parity(results["client"].store, sample=None)
        results["parity"] = report
        cells = sum(v.cells for v in report.views)
        entities = sum(v.entities for v in report.views)
        return f"{cells} cells over {entities} entities: {len(report.mismatches)} mismatches"

    def lineage() -> str:
        return lineage_summary(settings)

    steps = [
        ("demo-data", raw_data),
        ("ingest", ingest),
        ("apply", apply),
        ("materialize", materialize_step),
        ("late data", late),
        ("training set", training),
        ("online lookup", lookup),
        ("parity audit", parity),
        ("lineage", lineage),
    ]
    with progress:
        task = progress.add_task("demo", total=len(steps))
        for name, step in steps:
            progress.update(task, description=name)
            facts.append((name, step()))
            progress.advance(task)
    table = folded_table("step", "result", title="Skewless demo", show_lines=True)
    for name, fact in facts:
        table.add_row(name, fact)
    console.print(table)
    res = results["online"]
    online = folded_table("feature", "value", "status", title=f"online features ({service})")
    for c in res.columns:
        online.add_row(c.name, str(c.values[0]), c.statuses[0])
    console.print(online)
    results["client"].close()
    passed = bool(results["parity"].passed)
    console.print(
        "[green]parity: online == offline for every entity[/]"
        if passed
        else "[red]parity audit found mismatches[/]"
    )
    return passed
