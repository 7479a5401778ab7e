"""``ChurnScorer``: the Python API over a verified model and the policy in force.

    from churndb import ChurnScorer
    scorer = ChurnScorer.from_database()            # champion, CHURNDB_DATABASE_URL or embedded
    scorer.score_customer({...})                    # one customer -> dict
    scorer.score_batch(df_or_csv_path)              # many -> DataFrame
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .base.config import load_settings
from .base.errors import InputError
from .base.text import first_line
from .model import roi
from .model.predictor import ChurnModel
from .model.bands import Policy
from .model.reasons import top_reasons
from .scoring.pipeline import assess
from .store import db, offline, registry, signing
from .store.segment_policy import policy_in_force


class ScoringInputError(InputError):
    """Input to the scorer is missing columns or has values of the wrong type."""


class ChurnScorer:
    def __init__(self, model: ChurnModel, model_version: int, policy: Policy, artifact_sha256: str = ""):
        self.model = model
        self.model_version = model_version
        self.policy = policy
        self.artifact_sha256 = artifact_sha256
        self._single_row = model.single_threaded()
        self.required_columns = ["customer_id"] + list(model.input_columns)
        if "monthly_charges" not in self.required_columns:
            self.required_columns.append("monthly_charges")

    @classmethod
    def from_database(cls, url: str | None = None, model: str | int = "champion") -> "ChurnScorer":
        settings = load_settings()
        url = db.libpq_url(url) if url else db.database_url(settings)
        key = signing.signing_key(settings)
        with db.connect(url) as conn:
            version, fitted, digest = registry.load(conn, key, model)
            policy = policy_in_force(conn)
        return cls(fitted, version, policy, digest)

    @classmethod
    def from_files(cls, folder: str | Path, key: str | bytes | None = None) -> "ChurnScorer":
        """A model exported with ``churndb models export V --out DIR``, verified before unpickling, scoring
        with the policy that was in force at export.  ``key``: the signing key (default as configured)."""
        if key is None:
            key = signing.signing_key(load_settings())
        elif isinstance(key, str):
            key = key.encode("utf-8")
        version, fitted, digest, policy = offline.load(Path(folder), key)
        return cls(fitted, version, policy, digest)

    # ------------------------------------------------------------------ input
    def _frame(self, data: pd.DataFrame | str | Path) -> pd.DataFrame:
        if isinstance(data, (str, Path)):
            try:
                data = pd.read_csv(data)
            except (OSError, ValueError) as exc:
                raise ScoringInputError(f"cannot read customers from {data}: {first_line(exc)}") from None
        if not isinstance(data, pd.DataFrame):
            raise ScoringInputError("score_batch expects a pandas DataFrame or a CSV path")
        missing = [c for c in self.required_columns if c not in data.columns]
        if missing:
            raise ScoringInputError(f"missing column(s): {', '.join(missing)}")
        wrong = []
        for c in list(self.model.features.numeric) + ["monthly_charges"]:
            values = data[c]
            if not pd.api.types.is_numeric_dtype(values):
                parsed = pd.to_numeric(values, errors="coerce")
                if (parsed.isna() & values.notna()).any():
                    wrong.append(c)
        if wrong:
            raise ScoringInputError(f"column(s) must be numeric: {', '.join(sorted(set(wrong)))}")
        return data

    # ------------------------------------------------------------------ scoring
    def probabilities(self, frame: pd.DataFrame) -> np.ndarray:
        return self.model.predict_proba(frame)[:, 1]

    @property
    def segments(self) -> tuple[str, ...]:
        """The policy's segment names, highest risk first."""
        return self.policy.categories

    def score_batch(self, data: pd.DataFrame | str | Path) -> pd.DataFrame:
        scored, _ = assess(self.model, self.policy, self._frame(data))
        return scored.drop(columns="targeted")

    def score_customer(self, customer: dict) -> dict:
        """One customer, for online use: single-threaded learners (thread start-up would dominate),
        the features computed once for the probability and the reasons."""
        scored, matrix = assess(self._single_row, self.policy, self._frame(pd.DataFrame([customer])))
        row = scored.iloc[0]
        return {
            "customer_id": customer.get("customer_id"),
            "risk_probability": float(row["churn_probability"]),
            "risk_score": int(row["risk_score"]),
            "risk_category": row["risk_category"],
            "retention_action": row["retention_action"],
            "estimated_intervention_cost": float(row["estimated_intervention_cost"]),
            "estimated_revenue_at_risk": float(row["estimated_revenue_at_risk"]),
            "top_reasons": top_reasons(self._single_row, matrix)[0],
            "model_version": self.model_version,
        }

    def export_for_crm(self, scored: pd.DataFrame, path: str | Path, segment: str = "all") -> int:
        """Write scored customers (one segment or all) to CSV, highest risk first; returns rows written."""
        if "risk_category" not in scored.columns:
            scored = self.score_batch(scored)
        if segment != "all":
            if segment not in self.segments:
                raise ScoringInputError(f"unknown segment {segment!r}: use one of {', '.join(self.segments)}, all")
            scored = scored[scored["risk_category"].str.lower() == segment]
        ordered = scored.sort_values(["risk_score", "churn_probability"], ascending=False, kind="stable")
        ordered.to_csv(path, index=False)
        return len(ordered)

    def generate_report(self, scored: pd.DataFrame) -> dict:
        """Program figures for scored customers under the policy in force (the formula in ``churndb.roi``).

        No control group here: this is the whole-program projection for a frame in hand."""
        if "risk_category" not in scored.columns:
            scored = self.score_batch(scored)
        targeted_categories = {b.risk_category for b in self.policy.bands if b.targeted}
        rows = []
        for band in self.policy.bands:
            part = scored[scored["risk_category"] == band.risk_category]
            if band.risk_category not in targeted_categories or part.empty:
                continue
            rows.append({"targeted": len(part), "contacted": len(part),
                         "program_cost": float(part["estimated_intervention_cost"].sum()),
                         "expected_retained": float(part["churn_probability"].sum() * self.policy.success_rate),
                         "expected_revenue_saved": float(part["estimated_revenue_at_risk"].sum() * self.policy.success_rate),
                         "contacted_revenue_at_risk": float(part["estimated_revenue_at_risk"].sum()),
                         "horizon_months": self.policy.value_horizon_months})
        program = roi.summarize(rows)
        counts = scored["risk_category"].str.lower().value_counts()
        return {
            "customers": int(len(scored)),
            "avg_risk_score": round(float(scored["risk_score"].mean()), 2) if len(scored) else None,
            "segments": {seg: int(counts.get(seg, 0)) for seg in self.segments},
            "priority_interventions": int(sum(counts.get(c, 0) for c in self.policy.priority_categories)),
            "revenue_at_risk": round(float(scored["estimated_revenue_at_risk"].sum()), 2),
            "program_cost": program["program_cost"],
            "expected_retained": program["expected_retained"],
            "expected_revenue_saved": program["expected_revenue_saved"],
            "net_benefit": program["net_benefit"],
            "expected_roi": program["roi"],
            "monthly_revenue_saved": program["monthly_revenue_saved"],
            "break_even_success_rate": program["break_even_success_rate"],
            "policy_version": self.policy.policy_version,
            "model_version": self.model_version,
        }

    def segment_batch(self, scored: pd.DataFrame) -> dict[str, pd.DataFrame]:
        """Split scored customers by risk category, highest risk first within each."""
        if "risk_category" not in scored.columns:
            scored = self.score_batch(scored)
        return {seg: scored[scored["risk_category"].str.lower() == seg].sort_values("risk_score", ascending=False)
                for seg in self.segments}
