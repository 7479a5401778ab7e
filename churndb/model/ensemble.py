"""The stacked ensemble: XGBoost + a random forest (XGBoost's) + LightGBM under a logistic meta-learner.

``StackedEnsemble`` is a scikit-learn classifier written to sklearn's rules
(``__init__`` only stores arguments, sub-estimators are cloned in ``fit``,
fitted state ends with ``_``, no I/O).  It exists instead of sklearn's own
``StackingClassifier`` for two reasons, both visible to users: it reports
progress per learner and fold, and its meta-learner sees the base learners'
out-of-fold predictions on the logit scale, which keeps the stacked
probabilities calibrated (ECE is measured on the hold-out and stored).  The
amount of work is the same as ``StackingClassifier`` with ``cv=5``: each base
learner is fitted once per fold plus once on all rows.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble._forest import BaseForest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_is_fitted

# The forest is XGBoost's random-forest mode (one round of 100 parallel trees, averaged; node values in
# log-odds, so it predicts and explains itself in C++).  Its sampling is a random forest's: each tree on
# 63.2% of the rows (a bootstrap sample's expected share of distinct rows) and each split among 15% of
# the features (scikit-learn's sqrt rule at the telecom layout's 42 features).  Measured against
# scikit-learn's RandomForestClassifier with bench/model_quality.py (README): same AUC.  Stored
# hyper-parameters from before name no sampling: a retrain from them gets this one.
FOREST_SAMPLING = {"subsample": 0.632, "colsample_bynode": 0.15}
DEFAULT_HYPERPARAMETERS = {
    "xgboost": {"n_estimators": 100, "max_depth": 7, "learning_rate": 0.1, "subsample": 0.8, "colsample_bytree": 0.8},
    "random_forest": {"n_estimators": 100, "max_depth": 12, **FOREST_SAMPLING},
    "lightgbm": {"n_estimators": 100, "max_depth": 6, "learning_rate": 0.1},
    "meta": {"C": 1.0},
    "cv_folds": 5,
}
_EPS = 1e-6


def threads() -> int:
    """Threads per learner: the machine's cores (learners are fitted one at a time)."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def base_learners(hyper: dict, seed: int, n: int | None = None) -> list[tuple[str, BaseEstimator]]:
    """The three base learners, each using ``n`` threads (default: all cores)."""
    from lightgbm import LGBMClassifier
    from xgboost import XGBClassifier, XGBRFClassifier

    n = n or threads()
    return [
        ("xgboost", XGBClassifier(**hyper["xgboost"], tree_method="hist", n_jobs=n, random_state=seed,
                                  eval_metric="logloss")),
        ("random_forest", XGBRFClassifier(**{**FOREST_SAMPLING, **hyper["random_forest"]}, tree_method="hist",
                                          n_jobs=n, random_state=seed, eval_metric="logloss")),
        ("lightgbm", LGBMClassifier(**hyper["lightgbm"], n_jobs=n, random_state=seed, verbose=-1)),
    ]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


class StackedEnsemble(ClassifierMixin, BaseEstimator):
    """Stacking on out-of-fold predictions; binary classification."""

    def __init__(self, estimators=(), final_estimator=None, cv=5, random_state=0, n_jobs=1):
        self.estimators = estimators
        self.final_estimator = final_estimator
        self.cv = cv
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X, y, progress: Callable[[str], None] | None = None):
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y).astype(int)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ValueError("training needs both churners and non-churners")
        folds = list(StratifiedKFold(self.cv, shuffle=True, random_state=self.random_state).split(X, y))
        # Every fit is independent: (learner, fold) pairs plus each learner on all rows.  Running
        # n_jobs of them side by side (threads; the learners release the GIL) uses the cores better
        # than one multi-threaded fit at a time on data of this size.
        tasks = [(j, k) for j in range(len(self.estimators)) for k in range(len(folds) + 1)]

        def run(task):
            j, k = task
            name, estimator = self.estimators[j]
            if progress:
                progress(f"{name}: fold {k + 1}/{self.cv}" if k < len(folds) else f"{name}: all rows")
            if k == len(folds):
                return task, clone(estimator).fit(X, y)
            train, test = folds[k]
            return task, clone(estimator).fit(X[train], y[train]).predict_proba(X[test])[:, 1]

        results = dict(Parallel(n_jobs=self.n_jobs, backend="threading")(delayed(run)(t) for t in tasks))
        oof = np.zeros((len(y), len(self.estimators)))
        for (j, k), value in results.items():
            if k < len(folds):
                oof[folds[k][1], j] = value
        fitted = [results[(j, len(folds))] for j in range(len(self.estimators))]
        if progress:
            progress("meta-learner")
        meta = clone(self.final_estimator) if self.final_estimator is not None else LogisticRegression()
        self.final_estimator_ = meta.fit(_logit(oof), y)
        self.estimators_ = fitted
        self.named_estimators_ = {name: est for (name, _), est in zip(self.estimators, fitted)}
        self.n_features_in_ = X.shape[1]
        return self

    def base_predict_proba(self, X) -> np.ndarray:
        """Each base learner's churn probability, one column per learner.

        A scikit-learn forest (the forest member of models trained before it became XGBoost's) predicting
        with several threads adds its trees up in whatever order the threads finish, so the same row
        could differ in the last bit from one run to the next.  Such forests therefore
        predict tree by tree in order (n_jobs=1) on blocks of rows side by side: a customer's probability is
        the same however the rows are chunked, threaded or spread over Dask workers."""
        check_is_fitted(self, "estimators_")
        X = np.asarray(X, dtype=np.float64)
        blocks = max(1, min(getattr(self, "prediction_threads_", 1), len(X) // 1000 or 1))
        columns = []
        for est in self.estimators_:
            if isinstance(est, BaseForest) and blocks > 1:
                with ThreadPoolExecutor(max_workers=blocks) as pool:
                    parts = pool.map(lambda rows: est.predict_proba(rows)[:, 1], np.array_split(X, blocks))
                    columns.append(np.concatenate(list(parts)))
            else:
                columns.append(est.predict_proba(X)[:, 1])
        return np.column_stack(columns)

    def set_prediction_threads(self, n: int | None = None) -> None:
        """Let each fitted base learner predict with ``n`` threads (default: this machine's cores).

        Training fits single-threaded learners side by side; a loaded model should use every core of
        the machine it scores on.  Forests get one thread per block of rows instead (see
        ``base_predict_proba``)."""
        n = n or threads()
        self.prediction_threads_ = n
        for est in getattr(self, "estimators_", []):
            if "n_jobs" in est.get_params():
                est.set_params(n_jobs=1 if isinstance(est, BaseForest) else n)

    def predict_proba(self, X) -> np.ndarray:
        p = self.final_estimator_.predict_proba(_logit(self.base_predict_proba(X)))[:, 1]
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]


def build_ensemble(hyper: dict, seed: int) -> StackedEnsemble:
    """Fits run one per core, single-threaded each; scoring later uses the same per-learner threads."""
    meta = LogisticRegression(C=hyper["meta"]["C"], max_iter=1000)
    cores = threads()
    return StackedEnsemble(base_learners(hyper, seed, n=1), meta, cv=hyper["cv_folds"], random_state=seed,
                           n_jobs=cores)
