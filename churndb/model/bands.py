"""Policy bands: risk score -> category, action, cost; revenue at risk.

The policy itself (thresholds, actions, costs, success rate, horizon) is data, read from
``segment_policy`` / ``segment_policy_bands`` by ``churndb.store.segment_policy`` and never written
as constants in code.  risk_score = floor(probability x 100); a band covers min_score..max_score
inclusive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..base.errors import ChurnDBError


PREDICTED_CHURN_SCORE = 50  # risk score of probability 0.5, the classification threshold


@dataclass(frozen=True)
class Band:
    risk_category: str
    min_score: int
    max_score: int
    retention_action: str
    intervention_cost: float
    targeted: bool


@dataclass(frozen=True)
class Arm:
    """One offer a segment tests: ``share`` of its contacted customers get it (``intervention_cost``:
    its own cost; None: the band's)."""
    risk_category: str
    arm: str
    offer: str
    share: float
    intervention_cost: float | None = None


@dataclass(frozen=True)
class Policy:
    policy_version: int
    success_rate: float
    value_horizon_months: int
    control_share: float
    program_budget: float | None
    contact_capacity: int | None
    reason_playbooks: dict
    bands: tuple[Band, ...]
    targeting: str = "risk"          # 'risk' | 'uplift': what the budget and capacity rank by
    arms: tuple[Arm, ...] = ()       # offer experiments, per segment

    def check_arms(self) -> None:
        """Each segment's arms share out all of its contacted customers; the control group has none."""
        totals: dict[str, float] = {}
        for a in self.arms:
            totals[a.risk_category] = totals.get(a.risk_category, 0.0) + a.share
        for category, total in totals.items():
            if abs(total - 1.0) > 1e-6:
                raise ChurnDBError(f"segment policy {self.policy_version}: the offer arms of {category} have shares "
                                   f"adding up to {total:g}, not 1")

    def arms_of(self, category: str) -> tuple[Arm, ...]:
        return tuple(a for a in self.arms if a.risk_category == category)

    @property
    def categories(self) -> tuple[str, ...]:
        """The policy's segment names in lower case, highest risk first (``critical``, ``high``, ...)."""
        return tuple(b.risk_category.lower() for b in self.bands)

    @property
    def priority_categories(self) -> tuple[str, ...]:
        """Segments of customers predicted to churn (risk score >= 50, i.e. probability >= 0.5): the
        priority interventions of the retention guide (Critical and High under the default policy)."""
        return tuple(b.risk_category.lower() for b in self.bands if b.min_score >= PREDICTED_CHURN_SCORE)

    def band_index(self, scores: np.ndarray) -> np.ndarray:
        """Index into ``bands`` for each risk score (bands are ordered highest first)."""
        idx = np.full(len(scores), -1)
        for i, band in enumerate(self.bands):
            idx[(scores >= band.min_score) & (scores <= band.max_score) & (idx < 0)] = i
        if (idx < 0).any():
            missing = sorted(set(scores[idx < 0].tolist()))[:5]
            raise ChurnDBError(f"segment policy {self.policy_version} has no band for risk score(s) {missing}")
        return idx

    def apply(self, probability: np.ndarray, monthly_charges: np.ndarray) -> pd.DataFrame:
        """Score, category, action, cost and revenue at risk for each probability."""
        probability = np.asarray(probability, dtype=float)
        scores = risk_scores(probability)
        idx = self.band_index(scores)
        pick = lambda attr: np.array([getattr(b, attr) for b in self.bands], dtype=object)[idx]  # noqa: E731
        return pd.DataFrame({
            "churn_probability": probability,
            "risk_score": scores,
            "risk_category": pick("risk_category").astype(str),
            "retention_action": pick("retention_action").astype(str),
            "estimated_intervention_cost": pick("intervention_cost").astype(float),
            "estimated_revenue_at_risk": np.round(
                probability * np.asarray(monthly_charges, dtype=float) * self.value_horizon_months, 2),
            "targeted": pick("targeted").astype(bool),
        })


def stable_position(customer_ids, campaign_id: str, hash_key: str) -> np.ndarray:
    """A number in [0, 1) per (campaign, customer) that never changes: the control draw, the offer arm
    and the uplift hold-out are each one of these under their own 16-byte ``hash_key``."""
    keys = pd.Series(_key_text(customer_ids, campaign_id), dtype=object)
    return pd.util.hash_pandas_object(keys, index=False, hash_key=hash_key).to_numpy(np.uint64) / 2.0**64


def _key_text(customer_ids, campaign_id: str) -> np.ndarray:
    """"<campaign>:<customer>" per customer, the customer as Python writes it.  Integer and text keys are
    joined by Arrow (a third of the time of an f-string per customer; the same text, so the same hash);
    anything else (a float: Arrow writes 1.0 as "1"; mixed kinds) takes the f-string."""
    try:
        ids = pa.array(np.asarray(customer_ids))
    except (pa.ArrowException, TypeError, ValueError):
        ids = None
    if ids is not None and (pa.types.is_integer(ids.type) or pa.types.is_string(ids.type)):
        text = ids if pa.types.is_string(ids.type) else pc.cast(ids, pa.string())
        return pc.binary_join_element_wise(f"{campaign_id}:", text, "").to_numpy(zero_copy_only=False)
    return np.array([f"{campaign_id}:{c}" for c in customer_ids], dtype=object)


def risk_scores(probability: np.ndarray) -> np.ndarray:
    return np.clip(np.floor(np.asarray(probability, dtype=float) * 100 + 1e-9), 0, 100).astype(int)
