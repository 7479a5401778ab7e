"""Training sets from the database, an honest hold-out, and a registered candidate.

Default source: ``customer_snapshots`` with point-in-time labels (see
``sql/queries/training.sql``).  ``--source REL`` trains from any table or view:
the name is looked up in the catalog and quoted by the driver, column types
come from the catalog (text/boolean -> categorical, numeric -> numeric).

The hold-out (20% stratified by default; the latest snapshot date when there
are several) is split off before anything is fitted and used only to measure.
"""

from __future__ import annotations

import datetime as dt
import io
import platform
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql
from sklearn.pipeline import Pipeline

from . import db, drift, telecom
from .ensemble import DEFAULT_HYPERPARAMETERS, build_ensemble
from .errors import InputError
from .features import FeaturePipeline
from .metrics import classification_metrics, curves, decile_table
from .sqlfiles import compose, query

SEARCH_SCHEMAS = [db.IMPORT_SCHEMA, db.SCHEMA, "public"]
LABEL = "label"


@dataclass
class TrainingSpec:
    source: str = "customer_snapshots"
    id_column: str = "customer_id"
    label_column: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    lead_days: int = 0
    horizon_days: int = 90
    test_size: float = 0.2
    threshold: float = 0.5
    seed: int = 42
    sample: int | None = None      # train on a stratified sample of about this many labelled rows
    hyperparameters: dict = field(default_factory=lambda: {k: (dict(v) if isinstance(v, dict) else v)
                                                            for k, v in DEFAULT_HYPERPARAMETERS.items()})


@dataclass
class TrainingSet:
    frame: pd.DataFrame            # id, [as_of_date], features..., label
    categorical: list[str]
    numeric: list[str]
    source: str
    unlabelled_rows: int
    dates: list[str]
    sampled_from: int | None = None  # labelled rows the sample was drawn from


def _copy_to_frame(conn: psycopg.Connection, statement, params=None) -> pd.DataFrame:
    buf = io.BytesIO()
    with conn.cursor() as cur:
        with cur.copy(statement, params) as copy:
            for chunk in copy:
                buf.write(chunk)
    buf.seek(0)
    if buf.getbuffer().nbytes == 0:
        return pd.DataFrame()
    return pd.read_csv(buf, keep_default_na=False, na_values=[""], low_memory=False)


def load_snapshot_training_set(conn: psycopg.Connection, spec: TrainingSpec) -> TrainingSet:
    lo, hi = conn.execute(query("snapshot_date_range")).fetchone()
    if lo is None:
        raise InputError("no customer snapshots loaded yet: run `churndb ingest FILE` first")
    params = {"start": spec.start or lo, "end": spec.end or hi, "lead_days": spec.lead_days,
              "horizon_days": spec.horizon_days}
    rows = sql.SQL(query("snapshot_training_rows"))
    sampled_from = None
    if spec.sample is not None:
        # The sample is drawn in the database: only the sampled rows ever reach this process.
        frame = _copy_to_frame(conn, compose("copy_training_sample", rows=rows),
                               {**params, "sample": spec.sample, "seed": spec.seed})
        if not frame.empty:
            unlabelled, sampled_from = int(frame["unlabelled_rows"].iloc[0]), int(frame["labelled_rows"].iloc[0])
            frame = frame.drop(columns=["sample_rank", "class_rows", "labelled_rows", "unlabelled_rows"])
    else:
        frame = _copy_to_frame(conn, compose("copy_training_rows", rows=rows), params)
        if not frame.empty:
            unlabelled = int(frame[LABEL].isna().sum())
    if frame.empty:
        raise InputError(f"no labelled snapshots between {params['start']} and {params['end']}")
    frame = frame[frame[LABEL].notna()].drop(columns=["batch_id"])
    if frame.empty:
        raise InputError("no snapshot has a known outcome yet: load a training extract with is_churn, "
                         "or outcomes that cover the prediction window")
    frame[LABEL] = frame[LABEL].astype(int)
    return TrainingSet(frame, list(telecom.CATEGORICAL), list(telecom.NUMERIC), "customer_snapshots",
                       unlabelled, sorted(frame["as_of_date"].astype(str).unique()), sampled_from)


def _label_values(values: pd.Series) -> pd.Series:
    text = values.astype(str).str.strip().str.lower()
    mapping = {"1": 1, "0": 0, "1.0": 1, "0.0": 0, "true": 1, "false": 0, "t": 1, "f": 0, "yes": 1, "no": 0,
               "y": 1, "n": 0, "churned": 1, "stayed": 0, "active": 0}
    return text.map(mapping).where(values.notna())


def load_relation_training_set(conn: psycopg.Connection, spec: TrainingSpec) -> TrainingSet:
    if not spec.label_column:
        raise InputError("--source needs --label-column (the churn label of that table)")
    if spec.sample is not None:
        raise InputError("--sample draws from customer_snapshots; for --source, sample in the view itself")
    schema, _, name = spec.source.rpartition(".")
    if schema.startswith("pg_") or schema == "information_schema":
        raise InputError(f"no table or view named {spec.source!r}: system catalogs are not training sources")
    schemas = [schema] if schema else SEARCH_SCHEMAS
    found = conn.execute(query("find_relation"), {"name": name, "schemas": schemas}).fetchone()
    if not found:
        raise InputError(f"no table or view named {spec.source!r} (looked in {', '.join(schemas)})")
    oid, nsp, rel = found
    columns = conn.execute(query("relation_columns"), {"oid": oid}).fetchall()
    kinds = dict(columns)
    for needed in (spec.id_column, spec.label_column):
        if needed not in kinds:
            raise InputError(f"{nsp}.{rel} has no column {needed!r} (columns: {', '.join(list(kinds)[:12])})")
    categorical = [c for c, k in columns if k in ("S", "B") and c not in (spec.id_column, spec.label_column)]
    numeric = [c for c, k in columns if k == "N" and c not in (spec.id_column, spec.label_column)]
    if not categorical and not numeric:
        raise InputError(f"{nsp}.{rel} has no text, boolean or numeric columns to learn from")
    wanted = [spec.id_column, spec.label_column] + categorical + numeric
    statement = compose("copy_relation_columns",
                        columns=sql.SQL(", ").join(sql.Identifier(c) for c in wanted),
                        relation=sql.Identifier(nsp, rel))
    frame = _copy_to_frame(conn, statement)
    frame = frame.rename(columns={spec.label_column: LABEL})
    frame[LABEL] = _label_values(frame[LABEL])
    unlabelled = int(frame[LABEL].isna().sum())
    frame = frame[frame[LABEL].notna()].copy()
    frame[LABEL] = frame[LABEL].astype(int)
    for c in categorical:
        frame[c] = frame[c].astype("string")
    return TrainingSet(frame, categorical, numeric, f"{nsp}.{rel}", unlabelled, [])


def load_training_set(url: str, spec: TrainingSpec) -> TrainingSet:
    try:
        with db.connect(url) as conn:
            if spec.source in ("customer_snapshots", "churndb.customer_snapshots"):
                return load_snapshot_training_set(conn, spec)
            return load_relation_training_set(conn, spec)
    except psycopg.Error as exc:
        raise db.as_churndb_error(exc) from None


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


def build_model(data: TrainingSet, spec: TrainingSpec) -> Pipeline:
    return Pipeline([
        ("features", FeaturePipeline(categorical=tuple(data.categorical), numeric=tuple(data.numeric))),
        ("stack", build_ensemble(spec.hyperparameters, spec.seed)),
    ])


def evaluate(model: Pipeline, test: pd.DataFrame, threshold: float) -> dict:
    """Stack and per-learner metrics on the hold-out; the decile calibration table."""
    y = test[LABEL].to_numpy()
    matrix = model.named_steps["features"].transform(test)
    stack = model.named_steps["stack"]
    p = stack.predict_proba(matrix)[:, 1]
    metrics = classification_metrics(y, p, threshold)
    metrics["deciles"] = decile_table(y, p)
    metrics["curves"] = curves(y, p)
    base = stack.base_predict_proba(matrix)
    metrics["base_learners"] = {
        name: {k: v for k, v in classification_metrics(y, base[:, j], threshold).items()
               if k in ("auc", "accuracy", "precision", "recall", "f1", "brier", "ece", "top_decile_lift")}
        for j, (name, _) in enumerate(stack.estimators)
    }
    return metrics


def fit(data: TrainingSet, spec: TrainingSpec, progress: Callable[[str], None] | None = None):
    """Split, fit on the training part only, measure on the hold-out."""
    train, test, holdout = split(data, spec)
    model = build_model(data, spec)
    t0 = time.perf_counter()
    model.fit(train, train[LABEL].to_numpy(), stack__progress=progress)
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
        "baseline": drift.baseline(train, data.categorical, data.numeric),
    }
    return model, metrics, training, test


def feature_spec(model: Pipeline) -> dict:
    features: FeaturePipeline = model.named_steps["features"]
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


def spec_dict(spec: TrainingSpec) -> dict:
    out = asdict(spec)
    for key in ("start", "end"):
        out[key] = out[key].isoformat() if out[key] else None
    return out
