"""The segment policy in force: thresholds, actions, costs, success rate, horizon.

Read from ``segment_policy`` / ``segment_policy_bands`` (versioned,
effective-dated), never from constants in code.  risk_score =
floor(probability x 100); a band covers min_score..max_score inclusive.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg

from .errors import ChurnDBError
from .sqlfiles import query


@dataclass(frozen=True)
class Band:
    risk_category: str
    min_score: int
    max_score: int
    retention_action: str
    intervention_cost: float
    targeted: bool


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


def risk_scores(probability: np.ndarray) -> np.ndarray:
    return np.clip(np.floor(np.asarray(probability, dtype=float) * 100 + 1e-9), 0, 100).astype(int)


def policy_in_force(conn: psycopg.Connection, at: dt.datetime | None = None) -> Policy:
    at = at or dt.datetime.now(dt.timezone.utc)
    row = conn.execute(query("policy_in_force"), {"at": at}).fetchone()
    if not row:
        raise ChurnDBError("no segment policy is in force: run `churndb init` to seed the default policy")
    bands = tuple(Band(*b) for b in conn.execute(query("policy_bands"), {"policy_version": row[0]}).fetchall())
    if not bands:
        raise ChurnDBError(f"segment policy {row[0]} has no bands")
    return Policy(row[0], row[1], row[2], row[3], row[4], row[5], row[6] or {}, bands)
