"""``skewless audit ...``: parity, drift and freshness audits, each also emitted to lineage.

Each audit exits 1 when its verdict is against the data (a mismatch, drift, a freshness breach).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from lineage.cli_render import folded_table
from services.cli_common import JSON_HELP, console, err, errors, open_store, settings_for, utc
from services.cli_progress import ProgressDisplay

audit_app = typer.Typer(help="Audits: parity, drift, freshness.", no_args_is_help=True)


@audit_app.command("parity")
def audit_parity(
    sample: Annotated[int, typer.Option(min=1, help="Entities sampled per view.")] = 200,
    all_entities: Annotated[
        bool, typer.Option("--all", help="Every entity, not a sample.")
    ] = False,
    service: Annotated[str | None, typer.Option(help="Only this feature service's views.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Prove online == offline (and == Feast's reads); exit 1 on any mismatch.

    On a terminal, stderr shows the views checked so far.
    """
    from dataclasses import asdict

    from services.audits.parity import audit_parity as run
    from services.lineage_audits import emit_parity

    with errors(), ProgressDisplay(show=not as_json) as display:

        def tick(view: str, total: int) -> None:
            display.advance("parity", total=total, unit="views", description=f"parity: {view}")

        report = run(
            open_store(),
            service=service,
            sample=None if all_entities else sample,
            progress=tick,
        )
    emit_parity(settings_for(), report)
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
        table = folded_table(
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
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
    report: Annotated[
        Path | None, typer.Option(help="Write an HTML report into this directory.")
    ] = None,
) -> None:
    """Compare served features with a training set, feature by feature; exit 1 on drift."""
    from services.audits.drift import audit_drift as run
    from services.audits.report import write_drift_report
    from services.lineage_audits import emit_drift

    settings = settings_for()
    with errors():
        result = run(open_store(settings), training_set, since=utc(since))
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
        table = folded_table(
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
def audit_freshness(
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Event-time age of the newest online value per view, against its SLO; exit 1 on a breach."""
    from dataclasses import asdict

    from services.audits.freshness import audit_freshness as run
    from services.lineage_audits import emit_freshness
    from services.online.state import lost_state_reason

    settings = settings_for()
    with errors():
        views = run(open_store(settings))
    emit_freshness(settings, views)
    if as_json:
        print(json.dumps([asdict(v) for v in views], default=str))
    else:
        table = folded_table(
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
                "[red]LOST[/]" if v.lost else "[red]BREACH[/]" if v.breached else "[green]ok[/]",
            )
        console.print(table)
    lost = [v.view for v in views if v.lost]
    if lost:
        err.print(f"error: {lost_state_reason(lost)}", markup=False)
    if any(v.breached for v in views):
        raise typer.Exit(1)
