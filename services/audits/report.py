"""A readable HTML drift report: per feature, both distributions overlaid and the scores.

Static inline SVG, no JavaScript and no plotting dependency, so the page opens anywhere.
"""

from __future__ import annotations

import html
from pathlib import Path

from services.audits.drift import DriftReport, FeatureDrift

W, H, PAD = 420, 160, 24


def _bars(ref: list[float], cur: list[float], labels: list[str]) -> str:
    n = max(len(ref), 1)
    top = max([*ref, *cur, 1e-12])
    bw = (W - 2 * PAD) / n
    parts = []
    for i, (r, c) in enumerate(zip(ref, cur, strict=True)):
        x = PAD + i * bw
        for value, colour, shift in ((r, "#4c78a8", 0.0), (c, "#f58518", 0.5)):
            h = (H - 2 * PAD) * value / top
            parts.append(
                f'<rect x="{x + shift * bw:.1f}" y="{H - PAD - h:.1f}" width="{bw / 2:.1f}" '
                f'height="{h:.1f}" fill="{colour}" fill-opacity="0.8"/>'
            )
    first, last = (
        html.escape(labels[0]) if labels else "",
        html.escape(labels[-1]) if labels else "",
    )
    parts.append(f'<text x="{PAD}" y="{H - 6}" font-size="10">{first}</text>')
    parts.append(f'<text x="{W - PAD}" y="{H - 6}" font-size="10" text-anchor="end">{last}</text>')
    return f'<svg width="{W}" height="{H}" role="img">{"".join(parts)}</svg>'


def _feature(f: FeatureDrift) -> str:
    chart = ""
    if f.reference_hist and f.current_hist:
        labels = [f"{v:.3g}" if isinstance(v, float) else str(v) for v in f.reference_hist[0]]
        chart = _bars(f.reference_hist[1], f.current_hist[1], labels)
    verdict = (
        '<b style="color:#c0392b">DRIFT</b>' if f.drifted else '<b style="color:#27ae60">ok</b>'
    )
    scores = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{v:.4g}</td></tr>" for k, v in f.scores.items()
    )
    return (
        f"<section><h2>{html.escape(f.feature)} ({f.kind}) {verdict}</h2>"
        f"<p>decided by <code>{f.method}</code> = {f.score:.4g} (threshold {f.threshold})</p>"
        f"{chart}<table>{scores}</table></section>"
    )


def write_drift_report(report: DriftReport, folder: Path) -> Path:
    """Write ``drift-<training set version>.html`` into ``folder`` and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"drift-{report.training_set.version}.html"
    verdict = "DATASET DRIFT" if report.dataset_drift else "no dataset drift"
    body = "".join(_feature(f) for f in report.features)
    drifted = ", ".join(report.drifted_features) or "none"
    title = f"Drift: {html.escape(report.service)} vs training set {report.training_set.version}"
    summary = (
        f"<b>{verdict}</b>: {len(report.drifted_features)} of {len(report.features)} features "
        f"drifted ({drifted}). Reference rows {report.reference_rows}, served rows "
        f"{report.current_rows}. Blue: training set; orange: served."
    )
    path.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>Skewless drift report</title>"
        "<style>body{font-family:sans-serif;max-width:960px;margin:auto}section{display:inline-block;"
        "width:460px;vertical-align:top;margin:8px}table{font-size:12px}</style></head><body>"
        f"<h1>{title}</h1><p>{summary}</p>{body}</body></html>"
    )
    return path
