"""Medians and spread over several ``make bench`` runs: ``python -m bench.summarize A.json B.json``.

Each argument is a run's ``latest.json``. For every metric found in all of them, the table gives
the median of Skewless's value, of the Feast column and of the ratio (Skewless's advantage, >1x
better, as in the run reports), with the lowest and highest ratio seen: a target that holds only
in some runs shows up as a spread that crosses it.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any


def _ratio(row: dict[str, Any], other: str) -> float | None:
    ours, theirs = row.get("skewless"), row.get(other)
    if not ours or not theirs:
        return None
    return float(ours / theirs if row["better"] == "higher" else theirs / ours)


def _fmt(value: float | None, ratio: bool = False) -> str:
    if value is None:
        return "-"
    if ratio:
        return f"{value:.2f}x"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def summarize(paths: list[Path]) -> str:
    runs = [json.loads(p.read_text()) for p in paths]
    by_metric: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        for row in run["rows"]:
            by_metric.setdefault(row["metric"], []).append(row)
    lines = [
        f"Medians over {len(runs)} runs ({', '.join(r['date'][:16] for r in runs)}; "
        f"scale {', '.join(str(r['scale']) for r in runs)}).",
        "",
        "| metric | unit | skewless | feast | vs feast (median) | vs feast (min-max) | "
        "vs limit/baseline (median) |",
        "|---|---|---|---|---|---|---|",
    ]
    for metric, rows in by_metric.items():
        if len(rows) != len(runs):
            continue  # a row a run did not have (added later): no median to quote
        ours = [r["skewless"] for r in rows if r["skewless"] is not None]
        feast = [r["feast"] for r in rows if r["feast"] is not None]
        vs_feast = [x for x in (_ratio(r, "feast") for r in rows) if x is not None]
        other = "limit" if any(r.get("limit") for r in rows) else "baseline"
        vs_other = [x for x in (_ratio(r, other) for r in rows) if x is not None]
        spread = f"{min(vs_feast):.2f}-{max(vs_feast):.2f}x" if vs_feast else "-"
        lines.append(
            f"| {metric} | {rows[0]['unit']} | "
            f"{_fmt(statistics.median(ours) if ours else None)} | "
            f"{_fmt(statistics.median(feast) if feast else None)} | "
            f"{_fmt(statistics.median(vs_feast) if vs_feast else None, True)} | {spread} | "
            f"{_fmt(statistics.median(vs_other) if vs_other else None, True)} ({other}) |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    paths = [Path(a) for a in (argv if argv is not None else sys.argv[1:])]
    if not paths:
        raise SystemExit("usage: python -m bench.summarize RUN.json [RUN.json ...]")
    sys.stdout.write(summarize(paths))


if __name__ == "__main__":
    main()
