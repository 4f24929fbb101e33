"""``skewless ingest``: validate a file against its contract, write it, and say what happened.

A rejection names its column problems on one stderr line, and the quarantine and report paths
are printed whole, each on a line of its own (a table cell would cut them to the terminal).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from lineage.cli_render import folded_table
from services.cli_common import console, err, errors, open_store
from services.cli_progress import ProgressDisplay

_PATHS = ("quarantine_path", "report_path")
_COLUMN_PROBLEMS = {
    "column_missing": "lacks column(s) that source {source!r} requires",
    "column_unknown": "has column(s) that source {source!r} does not declare",
}


def _print_ingest(result: Any, origin: Path) -> None:
    """The ingest summary; paths a user must copy are printed whole, each on its own line."""
    table = folded_table("fact", "value", title=f"ingest {result.source}", show_header=False)
    for key, value in result.summary().items():
        if key not in _PATHS:
            table.add_row(key, str(value))
    table.add_row("accepted", "yes" if result.accepted else "[red]no: rejected[/]")
    table.add_row("online entities updated", str(result.online_entities))
    for check, count in sorted(result.failed_checks.items()):
        table.add_row(f"failed: {check}", str(count))
    console.print(table)
    for line in _column_problems(result, origin):
        err.print(line, markup=False, soft_wrap=True)
    for key in _PATHS:
        path = getattr(result, key)
        if path:  # never in a table cell, which Rich cuts to the terminal's width
            console.print(f"{key.replace('_', ' ')}:", markup=False)
            console.print(path, markup=False, soft_wrap=True, highlight=False)


def _column_problems(result: Any, origin: Path) -> list[str]:
    """One line per kind of column problem, naming every column (missing, undeclared)."""
    by_check: dict[str, list[str]] = {}
    for problem in result.batch_problems:
        if problem["check"] in _COLUMN_PROBLEMS and problem["column"]:
            by_check.setdefault(problem["check"], []).append(str(problem["column"]))
    return [
        f"error: {origin}: {_COLUMN_PROBLEMS[check].format(source=result.source)}: "
        + ", ".join(columns)
        for check, columns in by_check.items()
    ]


def ingest_command(
    source: Annotated[str, typer.Argument(help="Source name (a contract).")],
    path: Annotated[Path, typer.Argument(help="Parquet or CSV file.")],
    policy: Annotated[
        str | None, typer.Option(help="reject | quarantine (default: the contract's).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Validate a batch against its contract and write it offline and online.

    On a terminal, stderr shows the rows validated so far: a bar for parquet (its metadata
    holds the row count), a running count for CSV.
    """
    from services.ingestion.gate import ingest_file

    if policy not in (None, "reject", "quarantine"):
        err.print(f"error: --policy must be reject or quarantine, not {policy!r}")
        raise typer.Exit(2)
    with errors(), ProgressDisplay(show=not as_json) as display:

        def tick(done: int, total: int | None) -> None:
            display.update(f"ingest {source}", completed=done, total=total, unit="rows")

        result = ingest_file(
            open_store(),
            source,
            path,
            policy=policy,  # type: ignore[arg-type]
            progress=tick if display.shown else None,
        )
    if as_json:
        print(json.dumps(result.summary()))
    else:
        _print_ingest(result, path)
    if not result.accepted:
        raise typer.Exit(1)
