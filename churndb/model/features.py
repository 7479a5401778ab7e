"""The feature pipeline: one sklearn transformer, stored inside the model artifact.

``FeaturePipeline`` turns a frame of raw customer attributes into the numeric
matrix the ensemble sees.  It is fitted with the model and pickled with it, so
scoring applies exactly the transformation training applied:

* categorical columns -> ordinal codes of the categories seen in training
  (at most ``MAX_CATEGORIES`` per column, the most frequent: the list is stored
  with the model, so it must stay small and never become a copy of customer data);
  a missing, rarer or never-seen category becomes NaN, which every base learner
  handles natively (no crash, no made-up category);
* numeric columns pass through (NaN stays NaN);
* derived telecom features (below) are computed from the row alone, the same
  way at train and score time.  Nothing is derived from the label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..base.errors import InputError


MAX_CATEGORIES = 50
IDENTIFIER_SHARE = 0.5        # a text column with more distinct values than half its rows ...
IDENTIFIER_MIN_DISTINCT = 50  # ... and more than this many is an identifier, not a category


def looks_like_identifier(values: pd.Series) -> bool:
    """A text column whose values are nearly all different (an e-mail, a phone number, a name) is an
    identifier, not a category: it says nothing a model can reuse and its values are personal data."""
    present = values.dropna()
    present = present[present.astype(str) != ""]
    distinct = present.nunique()
    return distinct > IDENTIFIER_MIN_DISTINCT and distinct > IDENTIFIER_SHARE * len(present)


def looks_like_row_number(values: pd.Series) -> bool:
    """A whole-number column with a different value on every row (RowNumber, an account number that is
    not the key) numbers the rows: it describes no customer, and a model would only learn the file's order."""
    present = pd.to_numeric(values, errors="coerce").dropna()
    return (len(present) > IDENTIFIER_MIN_DISTINCT and present.nunique() == len(present)
            and bool((present == present.round()).all()))


def frequent_categories(values: pd.Series, limit: int = MAX_CATEGORIES) -> list[str]:
    """The ``limit`` most frequent values (ties by value), as sorted text: what a model may remember."""
    counts = values.dropna().astype(str).value_counts()
    if len(counts) > limit:
        counts = counts.sort_index().sort_values(ascending=False, kind="stable").iloc[:limit]
    return sorted(counts.index)


def category_codes(values: pd.Series, categories: list[str]) -> np.ndarray:
    """Each value's position in ``categories`` (compared as text), -1 where unseen or missing.  The
    column is hashed once (``factorize``); only its distinct values are turned into text and looked up."""
    codes, uniques = pd.factorize(values)
    lookup = pd.Index(categories).get_indexer(pd.Index(uniques).astype(str))
    return np.where(codes >= 0, np.append(lookup, -1)[codes], -1)


def _ratio(a: pd.Series, b: pd.Series, floor: float) -> pd.Series:
    return a / np.maximum(b.astype(float), floor)


@dataclass(frozen=True)
class Derived:
    name: str
    needs: tuple[str, ...]
    compute: Callable[[pd.DataFrame], pd.Series]
    meaning: str


DERIVED: tuple[Derived, ...] = (
    Derived("avg_monthly_spend", ("total_charges", "tenure_months"),
            lambda d: _ratio(d["total_charges"], d["tenure_months"], 1.0),
            "lifetime spend per month of tenure"),
    Derived("price_increase_ratio", ("monthly_charges", "total_charges", "tenure_months"),
            lambda d: _ratio(d["monthly_charges"], _ratio(d["total_charges"], d["tenure_months"], 1.0), 1.0),
            "current bill versus the customer's average bill (price shock)"),
    Derived("complaint_trend", ("num_complaints_3m", "num_complaints_12m"),
            lambda d: d["num_complaints_3m"] - d["num_complaints_12m"] / 4.0,
            "complaints in the last quarter above the 12-month quarterly average"),
    Derived("overage_share", ("overage_charges", "monthly_charges"),
            lambda d: _ratio(d["overage_charges"], d["monthly_charges"], 1.0),
            "overage charges relative to the bill"),
    Derived("digital_engagement", ("app_logins_30d", "selfcare_transactions_30d"),
            lambda d: d["app_logins_30d"] + d["selfcare_transactions_30d"],
            "app logins plus self-care actions in 30 days"),
    Derived("care_contacts_per_complaint", ("call_center_interactions_3m", "num_complaints_3m"),
            lambda d: d["call_center_interactions_3m"] / (d["num_complaints_3m"] + 1.0),
            "care contacts per complaint (unresolved issues)"),
    Derived("network_pain", ("network_issues_3m", "dropped_call_rate"),
            lambda d: d["network_issues_3m"] + 100.0 * d["dropped_call_rate"],
            "network faults plus dropped-call percentage"),
    Derived("early_tenure", ("tenure_months",),
            lambda d: (d["tenure_months"] < 6).astype(float).where(d["tenure_months"].notna()),
            "in the first six months"),
)


class FeaturePipeline(TransformerMixin, BaseEstimator):
    """Raw attributes -> model matrix.  ``categorical`` / ``numeric`` name the input columns."""

    def __init__(self, categorical=(), numeric=(), derived=True):
        self.categorical = categorical
        self.numeric = numeric
        self.derived = derived

    @property
    def input_columns(self) -> list[str]:
        return list(self.categorical) + list(self.numeric)

    def fit(self, X: pd.DataFrame, y=None):
        frame = self._checked(X)
        self.categories_ = {c: frequent_categories(frame[c]) for c in self.categorical}
        available = set(self.numeric)
        self.derived_ = [d.name for d in DERIVED if self.derived and set(d.needs) <= available]
        self.feature_names_out_ = np.array(list(self.categorical) + list(self.numeric) + self.derived_, dtype=object)
        # Which original column each feature explains (derived features name themselves).
        self.feature_sources_ = {name: name for name in self.feature_names_out_}
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "feature_names_out_")
        frame = self._checked(X)
        out = np.empty((len(frame), len(self.feature_names_out_)), dtype=np.float64)
        j = 0
        for c in self.categorical:
            codes = category_codes(frame[c], self.categories_[c]).astype(float)
            codes[codes < 0] = np.nan  # never seen in training, or missing
            out[:, j] = codes
            j += 1
        numeric = frame[list(self.numeric)].apply(pd.to_numeric, errors="coerce").astype(float)
        out[:, j:j + len(self.numeric)] = numeric.to_numpy()
        j += len(self.numeric)
        by_name = {d.name: d for d in DERIVED}
        for name in self.derived_:
            out[:, j] = by_name[name].compute(numeric).to_numpy(dtype=float)
            j += 1
        out[~np.isfinite(out)] = np.nan
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_

    def _checked(self, X) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            raise InputError("features expect a table of customer attributes (a pandas DataFrame)")
        missing = [c for c in self.input_columns if c not in X.columns]
        if missing:
            raise InputError(f"missing input column(s): {', '.join(missing)}")
        numeric = X[list(self.numeric)]
        bad = [c for c in self.numeric if not pd.api.types.is_numeric_dtype(numeric[c])
               and pd.to_numeric(numeric[c], errors="coerce").isna().sum() > numeric[c].isna().sum()]
        if bad:
            raise InputError(f"column(s) {', '.join(bad)} must be numeric but hold text")
        return X


def meaning(feature: str) -> str:
    """A human description of a derived feature (or the column name itself)."""
    for d in DERIVED:
        if d.name == feature:
            return d.meaning
    return feature
