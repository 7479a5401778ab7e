"""``churndb monitor``: notice when the model or the program goes wrong.

Checks (thresholds from the ``[monitor]`` section of the config file):
  mean_score        mean risk score of the latest run above ``mean_score_max`` (50)
  segment_shift     a category's share moved more than ``share_shift_max`` (0.05) since the previous run
  matured_accuracy  accuracy on matured outcomes below ``accuracy_min`` (0.80)
  matured_auc       AUC on matured outcomes more than ``auc_drop_max`` (0.03) below the hold-out AUC
  projected_roi     projected ROI of the latest run below ``roi_min`` (2.5)
  feature_drift     PSI of an input column vs the training data above ``psi_alert`` (0.2: critical)
                    or ``psi_warn`` (0.1: warning); the risk score's PSI vs the previous run likewise
Every value is stored in ``monitoring_metrics``; every breach is a row in ``alerts``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields

import numpy as np
import psycopg

from ..base.config import Settings
from ..model import drift
from ..model.metrics import classification_metrics, decile_table
from ..store import db, sources
from ..store.sqlfiles import statements

SQL = statements(__name__)


@dataclass(frozen=True)
class Thresholds:
    mean_score_max: float = 50.0
    share_shift_max: float = 0.05
    accuracy_min: float = 0.80
    auc_drop_max: float = 0.03
    roi_min: float = 2.5
    psi_warn: float = 0.1
    psi_alert: float = 0.2
    horizon_days: int = 90
    min_matured_rows: int = 200

    @classmethod
    def from_settings(cls, settings: Settings) -> "Thresholds":
        whole = ("horizon_days", "min_matured_rows")
        return cls(**{f.name: settings.get("monitor", f.name, int if f.name in whole else float, f.default,
                                           minimum=1 if f.name in whole else None)
                      for f in fields(cls)})


class Monitor:
    def __init__(self, conn: psycopg.Connection, limits: Thresholds, source: str = "telecom"):
        self.conn, self.limits = conn, limits
        self.source, self.feed = source, sources.feed_name(source)
        self.alerts: list[dict] = []
        self.metrics: dict = {}

    def metric(self, name: str, value: float | None, run_id=None, model_version=None, subject: str = "",
               details: dict | None = None) -> None:
        self.conn.execute(SQL.query("insert_metric"), {"run_id": run_id, "model_version": model_version, "metric": name,
                                                   "subject": subject, "value": value,
                                                   "details": json.dumps(details or {})})
        self.metrics[f"{name}:{subject}" if subject else name] = value

    def alert(self, rule: str, severity: str, message: str, run_id=None, model_version=None, **details) -> None:
        alert_id = self.conn.execute(SQL.query("insert_alert"), {
            "rule": rule, "severity": severity, "message": message, "run_id": run_id,
            "model_version": model_version, "details": json.dumps(details, default=float)}).fetchone()[0]
        self.alerts.append({"alert_id": alert_id, "rule": rule, "severity": severity, "message": message})

    # ------------------------------------------------------------------ checks
    def check_runs(self) -> None:
        runs = self.conn.execute(SQL.query("recent_published_runs"), {"source": self.source}).fetchall()
        if not runs:
            return
        latest = runs[0]
        run_id, version = latest[0], latest[1]
        rows = self.conn.execute(SQL.query("run_shares"), {"run_id": run_id}).fetchall()
        if not rows:  # a run published empty (before runs had to score their whole snapshot)
            self.alert("empty_run", "critical", f"published run {run_id} scored no customers", run_id, version)
            return
        shares = {r[0]: r[1] for r in rows}
        mean = rows[0][2]
        self.metric("mean_risk_score", mean, run_id, version)
        if mean > self.limits.mean_score_max:
            self.alert("mean_score", "warning", f"mean risk score {mean:.1f} of run {run_id} is above "
                       f"{self.limits.mean_score_max:g}", run_id, version, mean=mean)
        if len(runs) > 1:
            previous = {r[0]: r[1] for r in self.conn.execute(SQL.query("run_shares"), {"run_id": runs[1][0]}).fetchall()}
            for category in sorted(set(shares) | set(previous)):
                shift = shares.get(category, 0.0) - previous.get(category, 0.0)
                self.metric("segment_share_change", shift, run_id, version, category)
                if abs(shift) > self.limits.share_shift_max:
                    self.alert("segment_shift", "warning",
                               f"{category} share moved {shift * 100:+.1f} points between runs {runs[1][0]} and "
                               f"{run_id} (limit {self.limits.share_shift_max * 100:g})", run_id, version,
                               category=category, shift=shift)
        self.check_drift(latest, runs[1] if len(runs) > 1 else None)

    def check_drift(self, latest, previous) -> None:
        run_id, version, summary, baseline = latest[0], latest[1], latest[2] or {}, latest[5] or {}
        for column, counts in (summary.get("features") or {}).items():
            if column not in baseline:
                continue
            value = drift.psi(baseline[column]["shares"], drift.shares(counts))
            self.metric("psi", value, run_id, version, column, {"against": "training data"})
            self._psi_alert(value, f"input {column}", run_id, version)
        if previous is not None and (previous[2] or {}).get("score_bands") and summary.get("score_bands"):
            value = drift.psi(drift.shares(previous[2]["score_bands"]), drift.shares(summary["score_bands"]))
            self.metric("psi", value, run_id, version, "risk_score", {"against": f"run {previous[0]}"})
            self._psi_alert(value, "the risk score", run_id, version)

    def _psi_alert(self, value: float, what: str, run_id, version) -> None:
        if value > self.limits.psi_alert:
            self.alert("feature_drift", "critical", f"PSI of {what} is {value:.3f} (> {self.limits.psi_alert:g}) "
                       f"in run {run_id}", run_id, version, psi=value, subject=what)
        elif value > self.limits.psi_warn:
            self.alert("feature_drift", "warning", f"PSI of {what} is {value:.3f} ({self.limits.psi_warn:g}-"
                       f"{self.limits.psi_alert:g}) in run {run_id}", run_id, version, psi=value, subject=what)

    def check_roi(self) -> None:
        row = self.conn.execute(SQL.query("projected_roi"), {"source": self.source}).fetchone()
        if row and row[4]:  # a source without a value column: no money figure to check, and none made up
            self.metrics["projected_roi"] = row[4]
            return
        if not row or row[1] is None:
            return
        run_id, roi_value = row[0], row[1]
        self.metric("projected_roi", roi_value, run_id, None, details={"program_cost": row[2],
                                                                       "expected_revenue_saved": row[3]})
        if roi_value < self.limits.roi_min:
            self.alert("projected_roi", "warning", f"projected ROI of run {run_id} is {roi_value:.2f}x, below "
                       f"{self.limits.roi_min:g}x", run_id, roi=roi_value)

    def check_matured(self) -> None:
        covered = self.conn.execute(SQL.query("feed_coverage"), {"feed": self.feed}).fetchone()[0]
        if covered is None:
            self.metrics["matured_performance"] = "no outcome feed yet"
            return
        runs = self.conn.execute(SQL.query("matured_run"), {"horizon_days": self.limits.horizon_days,
                                                        "source": self.source,
                                                        "covered_until": covered, "limit": 5}).fetchall()
        seen_versions = set()
        for run_id, version, is_shadow, _ in runs:
            if version in seen_versions:
                continue  # the newest matured run per model version
            seen_versions.add(version)
            rows = self.conn.execute(SQL.query("matured_scores"), {"run_id": run_id, "feed": self.feed,
                                                               "horizon_days": self.limits.horizon_days}).fetchall()
            if len(rows) < self.limits.min_matured_rows:
                continue
            p = np.array([r[0] for r in rows], dtype=float)
            y = np.array([r[1] for r in rows], dtype=int)
            holdout_auc, _, threshold, _ = self.conn.execute(SQL.query("model_holdout"),
                                                             {"model_version": version}).fetchone()
            m = classification_metrics(y, p, threshold or 0.5)
            self.metric("matured_performance", m["auc"], run_id, version, details={
                "auc": m["auc"], "accuracy": m["accuracy"], "holdout_auc": holdout_auc, "rows": len(rows),
                "is_shadow": is_shadow, "brier": m["brier"], "deciles": decile_table(y, p)})
            if is_shadow:
                continue
            if m["accuracy"] < self.limits.accuracy_min:
                self.alert("matured_accuracy", "critical", f"accuracy on matured outcomes of run {run_id} is "
                           f"{m['accuracy']:.3f}, below {self.limits.accuracy_min:g}", run_id, version,
                           accuracy=m["accuracy"])
            if m["auc"] is not None and holdout_auc is not None and m["auc"] < holdout_auc - self.limits.auc_drop_max:
                self.alert("matured_auc", "critical", f"AUC on matured outcomes of run {run_id} is {m['auc']:.3f}, "
                           f"more than {self.limits.auc_drop_max:g} below the hold-out AUC {holdout_auc:.3f}",
                           run_id, version, auc=m["auc"], holdout_auc=holdout_auc)


def monitor(url: str, settings: Settings, source: str | None = None) -> dict:
    """Every check on the runs of one source (default ``[score] source``, else the telecom layout)."""
    limits = Thresholds.from_settings(settings)
    source = source or settings.get("score", "source", str, sources.TELECOM)
    try:
        with db.transaction(url) as conn:
            sources.require(conn, source)
            m = Monitor(conn, limits, source)
            m.check_runs()
            m.check_roi()
            m.check_matured()
    except psycopg.Error as exc:
        raise db.as_churndb_error(exc) from None
    return {"alerts": m.alerts, "metrics": m.metrics}
