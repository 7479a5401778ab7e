"""Model quality on rows the model never saw.  Nothing here is ever typed in."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (accuracy_score, brier_score_loss, confusion_matrix, f1_score, precision_score,
                             recall_score, roc_auc_score, roc_curve)


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Share-weighted |mean predicted - observed rate| over equal-width probability bins."""
    idx = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            total += mask.mean() * abs(p[mask].mean() - y[mask].mean())
    return float(total)


def decile_table(y: np.ndarray, p: np.ndarray) -> list[dict]:
    """Predicted vs observed churn rate per score decile (decile 10 = highest risk)."""
    order = np.argsort(p, kind="stable")
    out = []
    for d, chunk in enumerate(np.array_split(order, 10), start=1):
        if len(chunk):
            out.append({"decile": d, "customers": int(len(chunk)), "predicted_rate": float(p[chunk].mean()),
                        "observed_rate": float(y[chunk].mean())})
    return out


def classification_metrics(y, p, threshold: float = 0.5) -> dict:
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=float)
    pred = (p >= threshold).astype(int)
    top = np.argsort(-p, kind="stable")[: max(1, int(round(0.1 * len(p))))]
    base_rate = y.mean()
    tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
    return {
        "auc": float(roc_auc_score(y, p)) if 0 < base_rate < 1 else None,
        "accuracy": float(accuracy_score(y, pred)),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
        "f1": float(f1_score(y, pred, zero_division=0)),
        "brier": float(brier_score_loss(y, p)),
        "ece": expected_calibration_error(y, p),
        "threshold": threshold,
        "rows": int(len(y)),
        "churn_rate": float(base_rate),
        "mean_predicted": float(p.mean()),
        "top_decile_lift": float(y[top].mean() / base_rate) if base_rate > 0 else None,
        "top_decile_capture": float(y[top].sum() / y.sum()) if y.sum() > 0 else None,
        "confusion_matrix": {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)},
    }


def curves(y, p, points: int = 50) -> dict:
    """ROC curve and cumulative gains, thinned to about ``points`` points each (for the report)."""
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=float)
    fpr, tpr, _ = roc_curve(y, p)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(points, len(fpr))).astype(int))
    order = np.argsort(-p, kind="stable")
    captured = np.cumsum(y[order]) / max(y.sum(), 1)
    shares = np.linspace(0, 1, points + 1)[1:]
    gains = [[float(s), float(captured[max(int(round(s * len(y))) - 1, 0)])] for s in shares]
    return {"roc": [[float(fpr[i]), float(tpr[i])] for i in keep], "gains": [[0.0, 0.0]] + gains}
