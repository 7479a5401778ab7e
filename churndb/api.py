"""``ChurnScorer``: the Python API over a verified model and the policy in force.

    from churndb import ChurnScorer
    scorer = ChurnScorer.from_database()            # champion, CHURNDB_DATABASE_URL or embedded
    scorer.score_customer({...})                    # one customer -> dict
    scorer.score_batch(df_or_csv_path)              # many -> DataFrame

    ChurnScorer.from_database(source="telco").score_customer({"customerID": "7590-VHVEG", "Contract": ...})
    # a registered source: its champion, the columns under the file's own headers (or stored names)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .base.config import load_settings
from .base.errors import InputError
from .base.text import first_line
from .model import roi
from .model.predictor import ChurnModel
from .model.bands import Policy
from .model.reasons import ranked, reasons_json
from .ingest.table import LABEL_FALSE, LABEL_TRUE
from .scoring.pipeline import assess, reason_labels
from .store import db, offline, registry, signing, sources
from .store.segment_policy import policy_in_force
from .store.sources import Source


class ScoringInputError(InputError):
    """Input to the scorer is missing columns or has values of the wrong type."""


class ChurnScorer:
    def __init__(self, model: ChurnModel, model_version: int, policy: Policy, artifact_sha256: str = "",
                 source: Source | None = None):
        self.model = model
        self.model_version = model_version
        self.policy = policy
        self.artifact_sha256 = artifact_sha256
        self.source = None if source is None or source.is_telecom else source
        self._single_row = model.single_threaded()
        if self.source is None:
            self.required_columns = ["customer_id"] + list(model.input_columns)
            if "monthly_charges" not in self.required_columns:
                self.required_columns.append("monthly_charges")
        else:  # the source's own headers: its key and every column the model reads
            keyed = [self.source.key_header] if self.source.key_header else []
            self.required_columns = keyed + [self.source.header(c) for c in model.input_columns]

    @classmethod
    def from_database(cls, url: str | None = None, model: str | int = "champion",
                      source: str = sources.TELECOM) -> "ChurnScorer":
        """The champion of ``source`` (or model version ``model``, which must be one of that source's)."""
        settings = load_settings()
        url = db.libpq_url(url) if url else db.database_url(settings)
        key = signing.signing_key(settings)
        with db.connect(url) as conn:
            layout = sources.require(conn, source)
            version = registry.resolve(conn, model, layout.name)
            trained_on = registry.model_source(conn, version)
            if trained_on != layout.name:
                raise InputError(f"model {version} was trained on source {trained_on}, not {layout.name}")
            version, fitted, digest = registry.load(conn, key, version)
            policy = policy_in_force(conn)
        return cls(fitted, version, policy, digest, layout)

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
        if self.source is not None:
            data = self._source_frame(data)  # names its own missing columns
        missing = [c for c in self.required_columns if c not in data.columns and self.source is None]
        if missing:
            raise ScoringInputError(f"missing column(s): {', '.join(missing)}")
        wrong = []
        value = ["monthly_charges"] if self.source is None else \
            ([self.source.value_column] if self.source.value_column else [])
        for c in list(self.model.features.numeric) + value:
            values = data[c]
            if not pd.api.types.is_numeric_dtype(values):
                parsed = pd.to_numeric(values, errors="coerce")
                if (parsed.isna() & values.notna()).any():
                    wrong.append(c)
        if wrong:
            raise ScoringInputError(f"column(s) must be numeric: {', '.join(sorted(set(wrong)))}")
        return data

    def _source_frame(self, data: pd.DataFrame) -> pd.DataFrame:
        """A source's rows as its snapshots hold them: headers (or stored names) -> stored names, the key
        as ``customer_key``, yes/no spellings -> t/f, blanks -> missing.  Missing columns are named by
        their headers."""
        layout = self.source
        renamed, missing = {}, []
        for c in layout.columns:
            if c.role in ("as_of", "excluded", "label"):
                continue
            given = c.header if c.header in data.columns else (c.column if c.column in data.columns else None)
            if given is None:
                if c.role == "key" or c.column in self.model.input_columns:
                    missing.append(c.header)
                continue
            renamed[given] = "customer_key" if c.role == "key" else c.column
        if missing:
            raise ScoringInputError(f"missing column(s): {', '.join(missing)}")
        frame = data[list(renamed)].rename(columns=renamed).copy()
        for name in frame.columns:  # as ingest reads a file: fields stripped, a blank is missing
            if not pd.api.types.is_numeric_dtype(frame[name]):
                frame[name] = frame[name].astype(object).map(
                    lambda v: (v.strip() or np.nan) if isinstance(v, str) else v)
        for c in layout.columns:
            if c.column not in frame or c.role == "key":
                continue
            if c.type == "boolean":
                words = frame[c.column].map(lambda v: None if v is None or v != v else str(v).strip().lower())
                frame[c.column] = words.map(lambda w: "t" if w in LABEL_TRUE else ("f" if w in LABEL_FALSE else None))
            elif c.type == "text":
                frame[c.column] = frame[c.column].map(lambda v: v if v is None or v != v else str(v).strip())
        if "customer_key" not in frame:
            frame["customer_key"] = None
        frame["customer_id"] = None
        return frame

    # ------------------------------------------------------------------ scoring
    def probabilities(self, frame: pd.DataFrame) -> np.ndarray:
        return self.model.predict_proba(frame)[:, 1]

    @property
    def segments(self) -> tuple[str, ...]:
        """The policy's segment names, highest risk first."""
        return self.policy.categories

    @property
    def _value_column(self) -> str | None:
        return "monthly_charges" if self.source is None else self.source.value_column

    def score_batch(self, data: pd.DataFrame | str | Path) -> pd.DataFrame:
        scored, _ = assess(self.model, self.policy, self._frame(data), value_column=self._value_column)
        return scored.drop(columns="targeted")

    def score_customer(self, customer: dict) -> dict:
        """One customer, for online use: single-threaded learners (thread start-up would dominate),
        the features computed once for the probability and the reasons."""
        frame = self._frame(pd.DataFrame([customer]))
        scored, matrix = assess(self._single_row, self.policy, frame, value_column=self._value_column)
        row = scored.iloc[0]
        # the very text a run stores for this customer (one formatting path for runs and the API)
        labels = reason_labels(self._single_row, self.source or sources.BUILTIN_TELECOM)
        reasons = json.loads(reasons_json(ranked(self._single_row, matrix), *labels)[0])
        revenue = float(row["estimated_revenue_at_risk"])
        return {
            "customer_id": customer.get(self.source.key_header) if self.source else customer.get("customer_id"),
            "risk_probability": float(row["churn_probability"]),
            "risk_score": int(row["risk_score"]),
            "risk_category": row["risk_category"],
            "retention_action": row["retention_action"],
            "estimated_intervention_cost": float(row["estimated_intervention_cost"]),
            "estimated_revenue_at_risk": None if revenue != revenue else revenue,
            "top_reasons": reasons,
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
