"""Result rows, the markdown table and ``bench/results/latest.{md,json}``."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Row:
    """One line of the table; ``None`` where an engine has no counterpart."""

    metric: str
    unit: str
    skewless: float | None
    feast: float | None
    limit: float | None
    better: str
    correct: dict[str, Any] | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # A limit is a real ceiling (raw inserts at the same concurrency, a raw HMGET pipeline,
    # pyarrow's own write); anything else worth comparing against is a baseline, named so.
    baseline: float | None = None


def machine(note: str) -> dict[str, Any]:
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return {
        "cores": os.cpu_count(),
        "ram_gib": round(pages / 2**30, 1),
        "note": "load generators (wrk, httpx) and servers share the same cores; " + note,
    }


def versions() -> dict[str, str]:
    out = {
        name: version(name) for name in ("feast", "duckdb", "pandas", "pyarrow", "redis", "pandera")
    }
    try:
        info = subprocess.run(
            ["redis-cli", "info", "server"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
        out["redis_server"] = next(
            (
                line.split(":", 1)[1].strip()
                for line in info.splitlines()
                if line.startswith("redis_version")
            ),
            "unknown",
        )
    except OSError:
        out["redis_server"] = "unknown"
    return out


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def _ratio(a: float | None, b: float | None, better: str) -> str:
    """How many times better Skewless is than ``b`` (>1 = better)."""
    if a is None or b is None or a == 0 or b == 0:
        return "-"
    return f"{(b / a if better == 'lower' else a / b):.2f}x"


def table(rows: list[Row]) -> str:
    lines = [
        "| metric | unit | skewless | feast | limit | baseline | vs feast | vs limit "
        "| vs baseline | better | notes |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.metric} | {r.unit} | {_fmt(r.skewless)} | {_fmt(r.feast)} | {_fmt(r.limit)} | "
            f"{_fmt(r.baseline)} | {_ratio(r.skewless, r.feast, r.better)} | "
            f"{_ratio(r.skewless, r.limit, r.better)} | "
            f"{_ratio(r.skewless, r.baseline, r.better)} | {r.better} | {r.note} |"
        )
    return "\n".join(lines)


def write(rows: list[Row], scale: float, quick: bool, note: str, out: Path = RESULTS) -> str:
    """Write ``latest.md`` and ``latest.json``; return the markdown."""
    payload = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "scale": scale,
        "quick": quick,
        "machine": machine(note),
        "versions": versions(),
        "rows": [asdict(r) for r in rows],
    }
    head = (
        f"# Skewless benchmark ({payload['date']}, scale {scale}{', quick' if quick else ''})\n\n"
        f"Machine: {payload['machine']['cores']} cores, {payload['machine']['ram_gib']} GiB; "
        f"{payload['machine']['note']}.\n"
        f"Versions: {', '.join(f'{k} {v}' for k, v in payload['versions'].items())}.\n"
        "Ratios: >1x means Skewless is better than that column. A limit is a real ceiling "
        "(the same work done raw, at the same concurrency); a baseline is a reference point "
        "that may be slower than Skewless.\n\n"
    )
    markdown = head + table(rows) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.md").write_text(markdown)
    (out / "latest.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return markdown
