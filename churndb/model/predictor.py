"""``ChurnModel``: a fitted churn model as the rest of churndb sees it (the predictor).

What is trained, signed and stored is a plain scikit-learn ``Pipeline`` of the ``FeaturePipeline``
("features") and the ``StackedEnsemble`` ("stack").  Every caller goes through this object instead
of reaching into ``named_steps``: raw frame -> feature matrix -> probability, the members' own
probabilities, reason-code contributions, and thread settings.
"""

from __future__ import annotations

import copy
from typing import Callable

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from .ensemble import StackedEnsemble, build_ensemble
from .features import FeaturePipeline


class ChurnModel:
    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline

    @classmethod
    def build(cls, categorical, numeric, hyperparameters: dict, seed: int) -> "ChurnModel":
        """An unfitted model: features over these input columns, the ensemble with these settings."""
        return cls(Pipeline([
            ("features", FeaturePipeline(categorical=tuple(categorical), numeric=tuple(numeric))),
            ("stack", build_ensemble(hyperparameters, seed)),
        ]))

    def fit(self, frame: pd.DataFrame, y: np.ndarray, progress: Callable[[str], None] | None = None) -> "ChurnModel":
        self.pipeline.fit(frame, y, stack__progress=progress)
        return self

    # ------------------------------------------------------------------ parts
    @property
    def features(self) -> FeaturePipeline:
        return self.pipeline.named_steps["features"]

    @property
    def stack(self) -> StackedEnsemble:
        return self.pipeline.named_steps["stack"]

    @property
    def input_columns(self) -> list[str]:
        return self.features.input_columns

    @property
    def feature_names(self) -> list[str]:
        return [str(f) for f in self.features.feature_names_out_]

    @property
    def member_names(self) -> list[str]:
        return [name for name, _ in self.stack.estimators]

    def member(self, name: str):
        """A fitted base learner by name (``xgboost``, ``random_forest``, ``lightgbm``)."""
        return self.stack.named_estimators_[name]

    # ------------------------------------------------------------------ predicting
    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        return self.features.transform(frame)

    def probability(self, matrix: np.ndarray) -> np.ndarray:
        """Churn probability per row of a feature matrix."""
        return self.stack.predict_proba(matrix)[:, 1]

    def base_probabilities(self, matrix: np.ndarray) -> np.ndarray:
        """Each member's churn probability, one column per member (``member_names`` order)."""
        return self.stack.base_predict_proba(matrix)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """scikit-learn's convention on a raw frame: columns (stay, churn)."""
        p = self.probability(self.matrix(frame))
        return np.column_stack([1 - p, p])

    # ------------------------------------------------------------------ threads
    def set_threads(self, n: int | None = None) -> "ChurnModel":
        """Predict with ``n`` threads per learner (default: this machine's cores)."""
        self.stack.set_prediction_threads(n)
        return self

    def single_threaded(self) -> "ChurnModel":
        """A copy for one customer at a time (online use): thread start-up would dominate."""
        return ChurnModel(copy.deepcopy(self.pipeline)).set_threads(1)
