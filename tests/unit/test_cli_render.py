"""The lineage CLI's tables keep every identifier whole on a narrow terminal."""

from __future__ import annotations

from rich.console import Console

from lineage import cli_render

VERSION = "ts55cd9e4637b88bf9"
NAME = "training_set/fraud_detection_training"


def test_an_identifier_too_wide_for_its_column_folds_instead_of_being_cut() -> None:
    # Regression: at 80 columns `lineage impact` printed "training_set/fra…" and
    # "ts55cd9e4637b88b…": an auditor could neither read nor copy the version asked about.
    row = {
        "namespace": "skewless",
        "name": NAME,
        "version": VERSION,
        "versionSource": "facet",
        "createdAt": "2026-12-06T11:28:01.123456+00:00",
        "rowCount": 2000,
    }
    console = Console(width=60, record=True, color_system=None)
    cli_render.impact(console, {"datasetVersions": [row]})
    shown = console.export_text()
    assert "…" not in shown
    assert all(len(line) <= 60 for line in shown.splitlines())
    body = shown.split("┩\n", 1)[1].split("└", 1)[0]  # the one row, over several lines
    pieces = [line.split("│")[1:-1] for line in body.splitlines()]
    cells = ["".join(piece[i].strip() for piece in pieces) for i in range(len(row))]
    assert cells == [str(value) for value in row.values()]
