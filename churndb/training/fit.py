"""Split, fit, evaluate: an honest hold-out, split off before anything is fitted.

The hold-out (20% stratified by default; the latest snapshot date when there
are several) is used only to measure.  No database here: ``dataset`` loads, this fits.
"""

from __future__ import annotations

import platform
import time
from typing import Callable

import numpy as np
import pandas as pd

from ..base.errors import InputError
from ..model import drift
from ..model.predictor import ChurnModel
from ..model.metrics import classification_metrics, curves, decile_table
from .spec import LABEL, TrainingSet, TrainingSpec


HOLDOUT_KEY = "churndb-holdout1"  # 16 bytes: the hash key of the hold-out assignment, fixed across versions


def holdout_position(ids: pd.Series) -> np.ndarray:
    """A stable pseudo-random position in [0, 1) per customer id (same id, same position, every run)."""
    hashed = pd.util.hash_pandas_object(ids.astype(str), index=False, hash_key=HOLDOUT_KEY)
    return hashed.to_numpy(dtype=np.uint64) / float(2**64)


def split(data: TrainingSet, spec: TrainingSpec) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Hold-out first, before anything is fitted.

    Several snapshot dates: train on the earlier ones, test on the latest.  One date: a stratified
    share chosen by a stable hash of the customer id, so every model trained on the same customers
    holds out the same ones; the per-class cut-offs are recorded, which lets a later comparison
    tell exactly which rows a model was trained on (``trained_on``)."""
    frame = data.frame
    if len(data.dates) > 1:
        latest = data.dates[-1]
        is_test = (frame["as_of_date"].astype(str) == latest).to_numpy()
        info = {"method": "time", "train_dates": data.dates[:-1], "test_date": latest,
                "text": f"time split: trained on snapshots before {latest}, tested on {latest}"}
        return frame[~is_test], frame[is_test], info
    y = frame[LABEL].to_numpy()
    counts = frame[LABEL].value_counts()
    if len(counts) < 2 or counts.min() < 10:
        raise InputError(f"too few churners or non-churners to train and test honestly ({counts.to_dict()})")
    position = holdout_position(frame[spec.id_column])
    cutoffs = {str(c): float(np.quantile(position[y == c], spec.test_size)) for c in (0, 1)}
    is_test = position < np.where(y == 1, cutoffs["1"], cutoffs["0"])
    info = {"method": "stratified-hash", "share": spec.test_size, "cutoffs": cutoffs, "train_dates": data.dates,
            "text": f"stratified {spec.test_size:.0%} hold-out by customer hash"}
    return frame[~is_test], frame[is_test], info


def trained_on(frame: pd.DataFrame, training: dict) -> np.ndarray:
    """Which rows of ``frame`` a model with this recorded ``training`` info was fitted on."""
    info = training.get("holdout") or {}
    dates = set(info.get("train_dates") or [])
    in_dates = (frame["as_of_date"].astype(str).isin(dates).to_numpy() if dates and "as_of_date" in frame
                else np.ones(len(frame), dtype=bool))
    if info.get("method") == "time":
        return in_dates
    if info.get("method") != "stratified-hash" or training.get("id_column") not in frame:
        return np.ones(len(frame), dtype=bool)  # unknown: assume it saw everything
    position = holdout_position(frame[training["id_column"]])
    y = frame[LABEL].to_numpy()
    cut = np.where(y == 1, info["cutoffs"]["1"], info["cutoffs"]["0"])
    return in_dates & (position >= cut)


def evaluate(model: ChurnModel, test: pd.DataFrame, threshold: float) -> dict:
    """Stack and per-learner metrics on the hold-out; the decile calibration table."""
    y = test[LABEL].to_numpy()
    matrix = model.matrix(test)
    p = model.probability(matrix)
    metrics = classification_metrics(y, p, threshold)
    metrics["deciles"] = decile_table(y, p)
    metrics["curves"] = curves(y, p)
    base = model.base_probabilities(matrix)
    metrics["base_learners"] = {
        name: {k: v for k, v in classification_metrics(y, base[:, j], threshold).items()
               if k in ("auc", "accuracy", "precision", "recall", "f1", "brier", "ece", "top_decile_lift")}
        for j, name in enumerate(model.member_names)
    }
    return metrics


def fit(data: TrainingSet, spec: TrainingSpec, progress: Callable[[str], None] | None = None):
    """Split, fit on the training part only, measure on the hold-out."""
    train, test, holdout = split(data, spec)
    model = ChurnModel.build(data.categorical, data.numeric, spec.hyperparameters, spec.seed)
    t0 = time.perf_counter()
    model.fit(train, train[LABEL].to_numpy(), progress)
    seconds = time.perf_counter() - t0
    metrics = evaluate(model, test, spec.threshold)
    training = {
        "source": data.source, "id_column": spec.id_column, "split": holdout["text"], "holdout": holdout,
        "snapshot_dates": data.dates, "lead_days": spec.lead_days, "horizon_days": spec.horizon_days,
        "rows_train": int(len(train)), "rows_test": int(len(test)), "rows_unlabelled": data.unlabelled_rows,
        "sample": ({"rows": int(len(data.frame)), "drawn_from": data.sampled_from, "method": "stratified hash in SQL"}
                   if data.sampled_from is not None else None),
        "churn_rate_train": float(train[LABEL].mean()), "churn_rate_test": float(test[LABEL].mean()),
        "fit_seconds": round(seconds, 2),
        "identifier_columns_excluded": data.identifiers,
        "baseline": drift.baseline(train, data.categorical, data.numeric),
    }
    return model, metrics, training, test


def feature_spec(model: ChurnModel) -> dict:
    features = model.features
    return {"categorical": list(features.categorical), "numeric": list(features.numeric),
            "derived": list(features.derived_), "categories": features.categories_,
            "features": [str(f) for f in features.feature_names_out_]}


def library_versions() -> dict:
    import joblib
    import lightgbm
    import sklearn
    import xgboost

    return {"python": platform.python_version(), "scikit-learn": sklearn.__version__,
            "xgboost": xgboost.__version__, "lightgbm": lightgbm.__version__, "pandas": pd.__version__,
            "numpy": np.__version__, "joblib": joblib.__version__}
