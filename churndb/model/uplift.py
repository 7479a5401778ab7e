"""Uplift: which customers a contact actually saves, with ground truth to test against.

* ``true_effects`` gives every synthetic customer a type — persuadable (a contact lowers churn a
  lot), sure thing (stays anyway), lost cause (leaves anyway), do-not-disturb (a contact makes
  leaving *more* likely) — from their own attributes plus noise, and the churn probability with
  and without a contact: the oracle an uplift model is measured against.
* ``simulate_campaign`` draws what happens to a campaign's customers: contacted customers churn
  with their treated probability, control customers with their untreated one.
* ``TLearner``: two churn models on the same feature pipeline, one fitted on treated customers and
  one on control customers; the predicted uplift is p(churn | not contacted) - p(churn | contacted).
* ``qini``: the Qini curve and coefficient of a ranking on a campaign's customers (retained =
  the good outcome), and ``compare``: uplift ranking against churn-risk ranking on the same rows,
  with a bootstrap interval — an uplift model is used for targeting only if its Qini beats risk
  ranking's with the interval above zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .features import FeaturePipeline
from .sample import true_churn_probability

TYPES = ("persuadable", "sure_thing", "lost_cause", "do_not_disturb")


def true_effects(frame: pd.DataFrame, seed: int = 0, effect: float = 1.0) -> pd.DataFrame:
    """Per customer: ``type``, ``p_control`` (churn if not contacted), ``p_treated`` (churn if contacted)
    and ``true_uplift`` = p_control - p_treated.  ``effect`` 0 gives a world where contacts change nothing."""
    rng = np.random.default_rng(seed)
    p = true_churn_probability(frame)
    complaints = pd.to_numeric(frame["num_complaints_3m"], errors="coerce").fillna(0).to_numpy()
    offer = pd.to_numeric(frame["received_competitor_offer_flag"], errors="coerce").fillna(0).to_numpy()
    tenure = pd.to_numeric(frame["tenure_months"], errors="coerce").fillna(24).to_numpy()
    monthly = frame["contract_type"].isin(["Month-to-Month", "No Contract"]).to_numpy()
    late = pd.to_numeric(frame["late_payment_flag_3m"], errors="coerce").fillna(0).to_numpy()
    dropped = pd.to_numeric(frame["dropped_call_rate"], errors="coerce").fillna(0).to_numpy()
    # Persuadable: unhappy but reachable (recent complaints, a competitor's offer, a short contract).
    persuade = 1.0 * (complaints > 0) + 0.9 * offer + 0.4 * monthly - 0.9 + rng.normal(0, 0.5, len(frame))
    # Lost cause: gone for reasons a call does not fix (a bad network, payment trouble).
    lost = 1.2 * (dropped > 0.03) + 1.0 * late - 0.8 + rng.normal(0, 0.5, len(frame))
    # Do-not-disturb: long-tenured, quiet customers whom a call reminds that they could leave.
    disturb = 0.05 * (tenure - 36) - 1.0 * (complaints > 0) - 0.6 * offer + rng.normal(0, 0.5, len(frame))
    kind = np.full(len(frame), 1)                                    # sure thing unless ...
    at_risk = p >= 0.12
    kind[at_risk & (disturb > 0.0)] = 3
    kind[at_risk & (lost > 0.6)] = 2
    kind[at_risk & (persuade > 0) & (lost <= 1.0)] = 0
    kind[(p >= 0.35) & (kind == 1)] = 2                              # high risk with no lever: lost cause
    p_treated = p.copy()
    p_treated[kind == 0] = p[kind == 0] * (1 - 0.7 * effect)
    p_treated[kind == 3] = np.minimum(1.0, p[kind == 3] + effect * 0.25)
    return pd.DataFrame({"type": np.array(TYPES)[kind], "p_control": p, "p_treated": p_treated,
                         "true_uplift": p - p_treated}, index=frame.index)


def simulate_campaign(effects: pd.DataFrame, treated: np.ndarray, seed: int = 0) -> np.ndarray:
    """1 = churned within the campaign's window, drawn with each customer's treated or control probability."""
    rng = np.random.default_rng(seed)
    p = np.where(treated, effects["p_treated"].to_numpy(), effects["p_control"].to_numpy())
    return (rng.random(len(p)) < p).astype(int)


class TLearner:
    """Two classifiers on one fitted feature pipeline: churn if contacted, churn if not."""

    def __init__(self, categorical, numeric, seed: int = 0, n_estimators: int = 200):
        self.categorical, self.numeric, self.seed, self.n_estimators = list(categorical), list(numeric), seed, n_estimators

    def _learner(self):
        from lightgbm import LGBMClassifier

        return LGBMClassifier(n_estimators=self.n_estimators, learning_rate=0.05, num_leaves=15,
                              min_child_samples=40, subsample=0.8, subsample_freq=1, colsample_bytree=0.8,
                              random_state=self.seed, verbose=-1, n_jobs=1)

    def fit(self, frame: pd.DataFrame, treated: np.ndarray, churned: np.ndarray) -> "TLearner":
        treated = np.asarray(treated, dtype=bool)
        churned = np.asarray(churned, dtype=int)
        if treated.sum() < 50 or (~treated).sum() < 50:
            raise ValueError("an uplift model needs at least 50 treated and 50 control customers")
        self.features_ = FeaturePipeline(tuple(self.categorical), tuple(self.numeric)).fit(frame)
        matrix = self.features_.transform(frame)
        self.treated_model_ = self._learner().fit(matrix[treated], churned[treated])
        self.control_model_ = self._learner().fit(matrix[~treated], churned[~treated])
        return self

    def churn_if_not_contacted(self, frame: pd.DataFrame) -> np.ndarray:
        return self.control_model_.predict_proba(self.features_.transform(frame))[:, 1]

    def uplift(self, frame: pd.DataFrame) -> np.ndarray:
        """Predicted reduction of churn probability a contact buys (negative: the contact hurts)."""
        matrix = self.features_.transform(frame)
        return self.control_model_.predict_proba(matrix)[:, 1] - self.treated_model_.predict_proba(matrix)[:, 1]


def qini(score: np.ndarray, treated: np.ndarray, churned: np.ndarray, points: int = 20) -> dict:
    """Qini curve of a ranking (highest score first) with retained as the good outcome: at each cut,
    retained among treated minus retained among control scaled to the treated count.  The coefficient
    is the area between the curve and the random ranking's straight line, per customer."""
    order = np.argsort(-np.asarray(score), kind="stable")
    t = np.asarray(treated, dtype=bool)[order]
    retained = 1 - np.asarray(churned, dtype=int)[order]
    n_t, n_c = np.cumsum(t), np.cumsum(~t)
    r_t, r_c = np.cumsum(retained * t), np.cumsum(retained * ~t)
    gain = r_t - np.where(n_c > 0, r_c * n_t / np.maximum(n_c, 1), 0.0)
    n = len(order)
    random_line = gain[-1] * np.arange(1, n + 1) / n
    coefficient = float(np.mean(gain - random_line) / n) if n else 0.0
    cuts = np.linspace(0, n - 1, points + 1).astype(int)[1:]
    at = {}
    for share in (0.1, 0.2, 0.3):
        k = max(1, int(share * n))
        tk, ck = t[:k], ~t[:k]
        at[f"uplift_at_{int(share * 100)}"] = (float(retained[:k][tk].mean() - retained[:k][ck].mean())
                                               if tk.any() and ck.any() else None)
    return {"coefficient": coefficient, "curve": [[int(c + 1), float(gain[c])] for c in cuts], **at}


@dataclass(frozen=True)
class Comparison:
    qini_uplift: float
    qini_risk: float
    difference_low: float   # 2.5th percentile of the bootstrap difference
    difference_high: float
    used_for_targeting: bool


def compare(uplift_score: np.ndarray, risk_score: np.ndarray, treated: np.ndarray, churned: np.ndarray,
            rounds: int = 200, seed: int = 0) -> Comparison:
    """Uplift ranking against churn-risk ranking on the same hold-out: the uplift model is used only if
    its Qini is higher and the bootstrap 95% interval of the difference lies above zero."""
    rng = np.random.default_rng(seed)
    treated, churned = np.asarray(treated, dtype=bool), np.asarray(churned, dtype=int)
    q_u = qini(uplift_score, treated, churned)["coefficient"]
    q_r = qini(risk_score, treated, churned)["coefficient"]
    diffs = []
    for _ in range(rounds):
        i = rng.integers(0, len(treated), len(treated))
        diffs.append(qini(uplift_score[i], treated[i], churned[i])["coefficient"]
                     - qini(risk_score[i], treated[i], churned[i])["coefficient"])
    low, high = (float(x) for x in np.percentile(diffs, [2.5, 97.5]))
    return Comparison(q_u, q_r, low, high, bool(q_u > q_r and low > 0))
