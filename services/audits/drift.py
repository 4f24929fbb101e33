"""The drift audit: served features against the exact training set a model learned from.

Per feature, every score is computed and one decides, following Evidently's defaults:
numeric features use KS (p < 0.05) when the served sample has fewer than 1,000 rows and
the Wasserstein distance normalised by the reference standard deviation (> 0.1) otherwise;
categorical features use chi-squared (p < 0.05) below 1,000 rows and the Jensen-Shannon
distance (> 0.1) otherwise. PSI and L-infinity are reported alongside. A contract column's
``drift_threshold`` overrides the deciding threshold. The dataset drifts when at least half of
its features drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

from services.contracts.base import ColumnSpec
from services.errors import VersionNotFoundError
from services.offline.training import TrainingSetVersion, find_training_set
from services.resolution import plan_service
from services.store import Store

SMALL_SAMPLE = 1000
P_VALUE = 0.05
WASSERSTEIN = 0.1
JS = 0.1
PSI = 0.1
BINS = 10


@dataclass
class FeatureDrift:
    feature: str
    kind: str
    method: str
    score: float
    threshold: float
    drifted: bool
    scores: dict[str, float] = field(default_factory=dict)
    reference_hist: tuple[list[float], list[float]] | None = None
    current_hist: tuple[list[float], list[float]] | None = None


@dataclass
class DriftReport:
    training_set: TrainingSetVersion
    service: str
    reference_rows: int
    current_rows: int
    features: list[FeatureDrift]

    @property
    def drifted_features(self) -> list[str]:
        return [f.feature for f in self.features if f.drifted]

    @property
    def dataset_drift(self) -> bool:
        return bool(self.features) and len(self.drifted_features) * 2 >= len(self.features)


def _edges(reference: np.ndarray) -> np.ndarray:
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, BINS + 1)))
    if len(edges) < 2:
        edges = np.array([reference.min() - 0.5, reference.max() + 0.5])
    return edges


def _shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    # Values outside the reference range are clipped into the outer bins (open-ended bins).
    counts = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)[0].astype(float)
    shares: np.ndarray = (counts + 1e-6) / (counts.sum() + 1e-6 * len(counts))
    return shares


def _psi(ref: np.ndarray, cur: np.ndarray) -> float:
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def numeric_drift(spec: ColumnSpec, ref: pd.Series, cur: pd.Series) -> FeatureDrift:
    r = ref.dropna().to_numpy(dtype=float)
    c = cur.dropna().to_numpy(dtype=float)
    edges = _edges(r)
    rs, cs = _shares(r, edges), _shares(c, edges)
    std = float(np.std(r)) or 1.0
    scores = {
        "psi": _psi(rs, cs),
        "jensen_shannon": float(jensenshannon(rs, cs, base=2)),
        "wasserstein_norm": float(stats.wasserstein_distance(r, c)) / std,
        "ks_p_value": float(stats.ks_2samp(r, c).pvalue),
    }
    if len(c) < SMALL_SAMPLE:
        method, score, threshold = (
            "ks_p_value",
            scores["ks_p_value"],
            spec.drift_threshold or P_VALUE,
        )
        drifted = score < threshold
    else:
        method, score = "wasserstein_norm", scores["wasserstein_norm"]
        threshold = spec.drift_threshold or WASSERSTEIN
        drifted = score > threshold
    hist_edges = np.linspace(min(r.min(), c.min()), max(r.max(), c.max()), 21)
    return FeatureDrift(
        spec.name,
        "numeric",
        method,
        score,
        threshold,
        drifted,
        scores,
        (hist_edges.tolist(), np.histogram(r, hist_edges, density=True)[0].tolist()),
        (hist_edges.tolist(), np.histogram(c, hist_edges, density=True)[0].tolist()),
    )


def categorical_drift(spec: ColumnSpec, ref: pd.Series, cur: pd.Series) -> FeatureDrift:
    r = ref.dropna().astype(str)
    c = cur.dropna().astype(str)
    cats = sorted(set(r) | set(c))
    rc = r.value_counts().reindex(cats, fill_value=0).to_numpy(dtype=float)
    cc = c.value_counts().reindex(cats, fill_value=0).to_numpy(dtype=float)
    rs, cs = (
        (rc + 1e-6) / (rc.sum() + 1e-6 * len(cats)),
        (cc + 1e-6) / (cc.sum() + 1e-6 * len(cats)),
    )
    expected = rs / rs.sum() * cc.sum()
    scores = {
        "psi": _psi(rs, cs),
        "jensen_shannon": float(jensenshannon(rs, cs, base=2)),
        "l_infinity": float(np.max(np.abs(rs - cs))),
        "chi2_p_value": float(stats.chisquare(cc, expected).pvalue),
    }
    if len(c) < SMALL_SAMPLE:
        method, score, threshold = (
            "chi2_p_value",
            scores["chi2_p_value"],
            spec.drift_threshold or P_VALUE,
        )
        drifted = score < threshold
    else:
        method, score, threshold = (
            "jensen_shannon",
            scores["jensen_shannon"],
            spec.drift_threshold or JS,
        )
        drifted = score > threshold
    return FeatureDrift(
        spec.name,
        "categorical",
        method,
        score,
        threshold,
        drifted,
        scores,
        (cats, rs.tolist()),
        (cats, cs.tolist()),
    )


def load_served(root: Path, service: str, since: datetime | None) -> pd.DataFrame:
    parts = sorted((root / service).rglob("part-*.parquet"))
    if not parts:
        return pd.DataFrame()
    frame = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    if since is not None:
        frame = frame[frame["_served_at"] >= pd.Timestamp(since)]
    return frame


def audit_drift(store: Store, training_set: str, *, since: datetime | None = None) -> DriftReport:
    """Compare served-feature logs of the training set's service with the training set."""
    reference, version = find_training_set(store.settings.training_dir, training_set)
    plan = plan_service(store, version.service)
    root = store.settings.served_dir
    current = load_served(root, version.service, since)
    if current.empty:
        raise VersionNotFoundError(
            "served-feature log for",
            f"{version.service} (nothing served yet under {root / version.service}; a server "
            "writes its sample there every few seconds)",
        )
    features = []
    for spec in plan.output_specs:
        if spec.name not in current.columns or spec.name not in reference.columns:
            continue
        ref, cur = reference[spec.name], current[spec.name]
        if not (spec.type.is_scalar and spec.type.name != "Bytes"):
            continue  # arrays and documents have no distribution to compare
        if cur.dropna().empty or ref.dropna().empty:
            continue
        if spec.type.is_numeric:
            features.append(numeric_drift(spec, ref, pd.to_numeric(cur, errors="coerce")))
        else:
            features.append(categorical_drift(spec, ref, cur))
    return DriftReport(version, version.service, len(reference), len(current), features)
