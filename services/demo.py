"""``skewless demo``: the whole flow on the embedded defaults, step by step.

demo-data -> ingest -> apply -> materialize -> late correction -> training set ->
online lookup -> parity audit -> lineage summary. Every step is the real code
path; the demo only chains them and prints what each did.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.audits.parity import audit_parity
from services.contracts import CONTRACTS
from services.demo_data import write_demo_data
from services.governance import lint
from services.ingestion.gate import ingest_file, ingest_frame
from services.lineage_events import emit_apply, emit_materialize, lineage_summary
from services.offline.datasets import list_versions
from services.online.materialize import materialize
from services.sdk import Client
from services.settings import Settings
from services.store import load_definitions


def _late_corrections(settings: Settings, source: str, count: int) -> pd.DataFrame:
    """Corrections of some entities' latest rows: same event time, created now, new values."""
    latest = list_versions(settings.offline_dir, source)[-1]
    frame = pd.read_parquet(latest.path)
    frame = (
        frame.sort_values(["event_timestamp", "created_timestamp"]).groupby("customer_id").tail(1)
    )
    fix = frame.head(count).copy()
    fix["created_timestamp"] = pd.Timestamp(datetime.now(UTC)).floor("s")
    fix["txn_count_1d"] = fix["txn_count_1d"] + 1
    return fix


def run_demo(settings: Settings, console: Console, *, customers: int = 500, seed: int = 7) -> bool:
    """Run every step; return True when the parity audit passed."""
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
        files = write_demo_data(settings.data_dir / "raw", seed=seed, customers=customers)
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
        definitions = load_definitions(settings.repo_path)
        problems = lint(definitions)
        if problems:
            raise RuntimeError("governance lint failed:\n" + "\n".join(problems))
        results["client"].store.apply(definitions)
        emit_apply(settings, results["client"].store)
        return f"{len(definitions.all())} objects, 0 governance problems"

    def materialize_step() -> str:
        res = materialize(results["client"].store)
        emit_materialize(settings, res)
        return ", ".join(f"{r.view}: {r.entities} entities" for r in res)

    def late() -> str:
        fix = _late_corrections(settings, "customer_transactions_daily", 20)
        r = ingest_frame(
            results["client"].store, "customer_transactions_daily", fix, origin="late corrections"
        )
        return (
            f"{r.written} same-timestamp corrections ingested; "
            f"{r.online_entities} entities updated online"
        )

    def training() -> str:
        entities = pd.read_parquet(results["files"].entities)
        frame, version = results["client"].training_set(
            entities, "fraud_detection_v2", name="fraud-demo"
        )
        results["training"] = (frame, version)
        results["client"].register_model("fraud-model", "1", version.version, {"auc": 0.91})
        results["client"].register_deployment("fraud-model", "1", "demo", "fraud_detection_v2")
        return (
            f"{version.version}: {version.rows} rows x {frame.shape[1]} columns, input order kept"
        )

    def lookup() -> str:
        res = results["client"].online_features(
            "fraud_detection_v2",
            {"customer_id": [1], "merchant_id": [1]},
            {"transaction_amount": [120.0]},
        )
        results["online"] = res
        present = sum(c.statuses[0] == "PRESENT" for c in res.columns)
        return f"customer 1 / merchant 1: {present} of {len(res.columns)} values PRESENT"

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
    table = Table("step", "result", title="Skewless demo", show_lines=True)
    for name, fact in facts:
        table.add_row(name, fact)
    console.print(table)
    res = results["online"]
    online = Table("feature", "value", "status", title="online features (fraud_detection_v2)")
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
    _ = CONTRACTS
    return passed
