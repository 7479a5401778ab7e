"""Exports and the deployment metrics of the latest published run.

Files as the original deployment wrote them: ``customer_risk_scores.csv``
(every customer with attributes and scores), ``critical_risk_customers.csv``,
``high_...``, ``medium_...``, ``low_...`` (highest risk first) and
``deployment_metrics.txt``.  Every figure is computed from the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from . import db
from .errors import ChurnDBError
from .sqlfiles import query

SEGMENTS = ("critical", "high", "medium", "low")
SEGMENT_FILES = {"all": "customer_risk_scores.csv", **{s: f"{s}_risk_customers.csv" for s in SEGMENTS}}


@dataclass(frozen=True)
class PublishedRun:
    run_id: int
    model_version: int
    policy_version: int
    as_of_date: object
    started_at: object
    finished_at: object
    customers_scored: int
    targets: int
    campaign_id: str | None


def latest_run(conn: psycopg.Connection) -> PublishedRun:
    row = conn.execute(query("latest_published_run")).fetchone()
    if not row:
        raise ChurnDBError("no published scoring run yet: run `churndb score` first")
    return PublishedRun(*row)


def export(conn: psycopg.Connection, run: PublishedRun, segment: str, out: Path) -> int:
    """Stream one segment of a run to CSV (COPY; flat memory); returns data rows written."""
    if segment not in SEGMENT_FILES:
        raise ChurnDBError(f"unknown segment {segment!r}: use one of {', '.join(SEGMENT_FILES)}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        lines = 0
        with out.open("wb") as fh, conn.cursor() as cur:
            with cur.copy(query("export_run"), {"run_id": run.run_id, "segment": segment}) as cp:
                for block in cp:
                    fh.write(block)
                    lines += bytes(block).count(b"\n")
    except OSError as exc:
        raise ChurnDBError(f"cannot write {out}: {exc.strerror}") from None
    return max(lines - 1, 0)


def deployment_metrics(conn: psycopg.Connection, run: PublishedRun) -> dict:
    """The latest run's figures, read from the same views BI reads (one definition of every number)."""
    with conn.cursor(row_factory=dict_row) as cur:
        segments = cur.execute(query("latest_segments")).fetchall()
        roi_rows = cur.execute(query("latest_roi")).fetchall()
        model = cur.execute(query("model_metrics"), {"model_version": run.model_version}).fetchone()
    if any(s["run_id"] != run.run_id for s in segments + roi_rows):
        raise ChurnDBError("a newer run was published while the report was being written; run it again")
    total = sum(s["customers"] for s in segments)
    program = next((r for r in roi_rows if r["risk_category"] == "All"), None)
    return {
        "run_id": run.run_id, "model_version": run.model_version, "policy_version": run.policy_version,
        "as_of_date": str(run.as_of_date), "published_at": run.finished_at.isoformat(),
        "customers_scored": total,
        "avg_risk_score": round(sum(s["avg_score"] * s["customers"] for s in segments) / total, 2) if total else None,
        "revenue_at_risk": round(sum(s["revenue_at_risk"] for s in segments), 2),
        "segments": segments,
        "roi_by_category": [r for r in roi_rows if r["risk_category"] != "All"],
        "roi": program or {},
        "model_metrics": {k: model["metrics"].get(k) for k in ("auc", "accuracy", "precision", "recall", "f1",
                                                               "brier", "ece")},
        "model_holdout_rows": model["training"].get("rows_test"),
    }


def _fmt(value, pattern: str) -> str:
    return "n/a" if value is None else pattern.format(value)


def metrics_text(m: dict) -> str:
    money = lambda v: f"${v:,.2f}"  # noqa: E731
    r = m["roi"] or {"targeted": 0, "contacted": 0, "program_cost": 0.0, "expected_retained": 0.0,
                     "expected_revenue_saved": 0.0, "net_benefit": 0.0, "roi": None, "monthly_revenue_saved": 0.0,
                     "monthly_net_benefit": 0.0, "break_even_success_rate": None, "success_rate": None,
                     "horizon_months": None}
    lines = [
        "CHURN SCORING — DEPLOYMENT METRICS",
        f"run {m['run_id']} published {m['published_at']} (snapshot as of {m['as_of_date']}), "
        f"model {m['model_version']}, policy {m['policy_version']}",
        "",
        f"Customers scored:        {m['customers_scored']:,}",
        f"Average risk score:      {m['avg_risk_score']}",
        f"Revenue at risk (all):   {money(m['revenue_at_risk'])}",
        "",
        "SEGMENTATION",
    ]
    for s in m["segments"]:
        lines.append(f"  {s['risk_category']:<9} {s['customers']:>10,}  {s['share']:6.1%}  avg score {s['avg_score']:5.1f}  "
                     f"revenue at risk {money(s['revenue_at_risk'])}")
    lines += [
        "",
        f"RETENTION PROGRAM (success rate {_fmt(r['success_rate'], '{:.0%}')}, "
        f"horizon {r['horizon_months']} months; control customers are not contacted)",
        f"  Targeted customers:           {r['targeted']:,} ({r['targeted'] - r['contacted']:,} control, "
        f"{r['contacted']:,} contacted)",
        f"  Program cost:                 {money(r['program_cost'])}",
        f"  Expected retained customers:  {r['expected_retained']:,.1f}",
        f"  Expected revenue saved:       {money(r['expected_revenue_saved'])}",
        f"  Net benefit:                  {money(r['net_benefit'])}",
        f"  ROI (net benefit / cost):     {_fmt(r['roi'], '{:.2f}x')}",
        f"  Monthly revenue saved:        {money(r['monthly_revenue_saved'])}",
        f"  Monthly net benefit:          {money(r['monthly_net_benefit'])}",
        f"  Break-even success rate:      {_fmt(r['break_even_success_rate'], '{:.1%}')}",
        "",
        "BY CATEGORY",
    ]
    for c in m["roi_by_category"]:
        lines.append(f"  {c['risk_category']:<9} contacted {c['contacted']:>9,}  cost {money(c['program_cost'])}  "
                     f"saved {money(c['expected_revenue_saved'])}")
    mm = m["model_metrics"]
    lines += [
        "",
        f"MODEL {m['model_version']} (measured on {m['model_holdout_rows']:,} hold-out rows never used in fitting)",
        "  " + "  ".join(f"{k} {v:.4f}" for k, v in mm.items() if v is not None),
    ]
    return "\n".join(lines) + "\n"


def write_report(url: str, out_dir: Path) -> dict:
    out_dir = Path(out_dir)
    try:
        with db.connect(url) as conn:
            run = latest_run(conn)
            files = {seg: str(out_dir / name) for seg, name in SEGMENT_FILES.items()}
            rows = {seg: export(conn, run, seg, Path(path)) for seg, path in files.items()}
            m = deployment_metrics(conn, run)
            from .report_html import render

            page = render(conn, m, out_dir)
    except psycopg.Error as exc:
        raise db.as_churndb_error(exc) from None
    text_path = out_dir / "deployment_metrics.txt"
    text_path.write_text(metrics_text(m), encoding="utf-8")
    return {"path": str(out_dir), "files": {**files, "metrics": str(text_path), "html": str(page)}, "rows": rows,
            "metrics": m}
