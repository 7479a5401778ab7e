"""Population stability: fixed bins from the training data, counts per run, PSI.

At training time each input column gets bins (numeric: the training deciles;
categorical: the categories seen, plus "other"), and the training share per
bin is stored with the model.  Every scoring run counts its customers into the
same bins (and the risk score into 10 bands), so drift is a comparison of
small count vectors: PSI = sum((a - e) * ln(a / e)) over bins, with shares
floored at 1e-4 so an empty bin does not make it infinite.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .features import category_codes, frequent_categories

FLOOR = 1e-4
SCORE_BANDS = 10


def _numeric_bins(values: pd.Series) -> list[float]:
    finite = pd.to_numeric(values, errors="coerce").dropna()
    if finite.empty:
        return []
    return sorted(set(np.quantile(finite, np.linspace(0.1, 0.9, 9)).round(6).tolist()))


def baseline(frame: pd.DataFrame, categorical, numeric) -> dict:
    """Bins and training shares for every input column."""
    out = {}
    for c in numeric:
        edges = _numeric_bins(frame[c])
        counts = numeric_counts(frame[c], edges)
        out[c] = {"kind": "numeric", "edges": edges, "shares": shares(counts)}
    for c in categorical:
        categories = frequent_categories(frame[c])  # the rest count as "other"
        counts = categorical_counts(frame[c], categories)
        out[c] = {"kind": "categorical", "categories": categories, "shares": shares(counts)}
    return out


def numeric_counts(values: pd.Series, edges: list[float]) -> np.ndarray:
    """Counts per bin: (-inf, e1], (e1, e2], ..., (ek, inf), then missing."""
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    missing = np.isnan(v)
    idx = np.searchsorted(np.asarray(edges, dtype=float), v[~missing], side="left")
    counts = np.bincount(idx, minlength=len(edges) + 1).astype(np.int64)
    return np.append(counts, missing.sum())


def categorical_counts(values: pd.Series, categories: list[str]) -> np.ndarray:
    """Counts per known category, then 'other' (unseen), then missing."""
    present = values.notna().to_numpy()
    idx = category_codes(values, categories)
    idx = np.where(idx < 0, len(categories), idx)[present]
    counts = np.bincount(idx, minlength=len(categories) + 1).astype(np.int64)
    return np.append(counts, (~present).sum())


def score_band_counts(risk_scores: np.ndarray) -> np.ndarray:
    bands = np.minimum(np.asarray(risk_scores) // 10, SCORE_BANDS - 1)
    return np.bincount(bands, minlength=SCORE_BANDS).astype(np.int64)


def counts_for(frame: pd.DataFrame, base: dict) -> dict[str, np.ndarray]:
    out = {}
    for column, spec in base.items():
        if column not in frame:
            continue
        if spec["kind"] == "numeric":
            out[column] = numeric_counts(frame[column], spec["edges"])
        else:
            out[column] = categorical_counts(frame[column], spec["categories"])
    return out


def shares(counts) -> list[float]:
    counts = np.asarray(counts, dtype=float)
    total = counts.sum()
    return (counts / total).tolist() if total else [0.0] * len(counts)


def psi(expected_shares, actual_shares) -> float:
    """Population stability index between two share vectors over the same bins."""
    e = np.maximum(np.asarray(expected_shares, dtype=float), FLOOR)
    a = np.maximum(np.asarray(actual_shares, dtype=float), FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))
