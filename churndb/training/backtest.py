"""``churndb backtest``: how the model would have done, date by date.

With labelled snapshots of several dates D1 < D2 < ... < Dn: fold k trains the ensemble on every
snapshot before D(k+1) and tests on D(k+1) alone, the way the model is really used (fitted on the
past, scoring the next snapshot).  AUC, Brier and top-decile lift per fold, and their spread, are
stored in ``model_backtests`` and printed.  Fewer than two labelled dates: refused in one line.
"""

from __future__ import annotations

import json
import statistics

import psycopg

from ..base import progress
from ..base.config import Settings
from ..base.errors import InputError
from ..model.metrics import classification_metrics
from ..model.predictor import ChurnModel
from ..store import db, registry
from ..store.sqlfiles import statements
from .dataset import load_training_set
from .spec import LABEL, TrainingSpec, spec_dict

SQL = statements(__name__)
MEASURES = ("auc", "brier", "top_decile_lift")


def backtest(url: str, settings: Settings, spec: TrainingSpec, folds: int | None = None) -> dict:
    data = load_training_set(url, spec)
    dates = data.dates
    if len(dates) < 2:
        raise InputError(f"backtest needs labelled snapshots of at least two dates; found {len(dates)} "
                         f"({', '.join(dates) or 'none'}): load more snapshots, or widen --start/--end")
    if folds is not None and folds < 1:
        raise InputError("--folds must be at least 1")
    tests = dates[1:][-(folds or len(dates)):]
    frame = data.frame
    as_of = frame["as_of_date"].astype(str)
    results = []
    with progress.bar(len(tests), "backtest", unit="folds") as bar:
        for test_date in tests:
            train, test = frame[as_of < test_date], frame[as_of == test_date]
            if train[LABEL].nunique() < 2 or test[LABEL].nunique() < 2:
                raise InputError(f"fold testing {test_date}: both churners and non-churners are needed on each side")
            model = ChurnModel.build(data.categorical, data.numeric, spec.hyperparameters, spec.seed)
            model.fit(train, train[LABEL].to_numpy())
            m = classification_metrics(test[LABEL].to_numpy(), model.probability(model.matrix(test)), spec.threshold)
            results.append({"train_until": max(d for d in dates if d < test_date), "test_date": test_date,
                            "rows_train": int(len(train)), "rows_test": int(len(test)),
                            **{k: m[k] for k in MEASURES}})
            bar.update(1)
    summary = {k: _spread([f[k] for f in results if f[k] is not None]) for k in MEASURES}
    try:
        with db.transaction(url) as conn:
            backtest_id = conn.execute(SQL.query("insert_backtest"), {
                "actor": registry.actor(), "spec": json.dumps(spec_dict(spec)), "folds": json.dumps(results),
                "summary": json.dumps(summary)}).fetchone()[0]
    except psycopg.Error as exc:
        raise db.as_churndb_error(exc) from None
    return {"backtest_id": backtest_id, "folds": results, "summary": summary, "snapshot_dates": dates}


def _spread(values: list[float]) -> dict:
    if not values:
        return {"mean": None, "std": None, "min": None, "max": None}
    return {"mean": statistics.fmean(values), "std": statistics.pstdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values)}


def describe(result: dict) -> list[str]:
    lines = [f"backtest {result['backtest_id']}: {len(result['folds'])} fold(s) over snapshots "
             f"{', '.join(result['snapshot_dates'])}"]
    for f in result["folds"]:
        lines.append(f"  trained on snapshots up to {f['train_until']} ({f['rows_train']:,} rows), tested on "
                     f"{f['test_date']} ({f['rows_test']:,}): AUC {f['auc']:.4f}  Brier {f['brier']:.4f}  "
                     f"top-decile lift {f['top_decile_lift']:.2f}")
    s = result["summary"]
    lines.append("  spread: " + "  ".join(f"{k} {v['mean']:.4f} ± {v['std']:.4f} ({v['min']:.4f}..{v['max']:.4f})"
                                          for k, v in s.items() if v["mean"] is not None))
    return lines
