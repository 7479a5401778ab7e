"""The deployment metrics of the latest published run, the report files and the HTML page.

``report --out DIR`` writes the CRM exports (``ops.exports``), ``deployment_metrics.txt`` and
``report.html`` (``ops.charts``).  Every figure is computed from the run, read from the same views
BI reads (one definition of every number).
"""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from ..base.errors import ChurnDBError
from ..store import db, sources
from ..store.copy import private_file
from ..store.sqlfiles import statements
from . import charts
from .exports import PublishedRun, export, file_name, latest_run, segments

SQL = statements(__name__)


CUMULATIVE_MONTHS = 6  # the guide's "6-month cumulative" table; [report] cumulative_months (1..24)


def deployment_metrics(conn: psycopg.Connection, run: PublishedRun, cumulative_months: int = CUMULATIVE_MONTHS) -> dict:
    """The latest run's figures, read from the same views BI reads (one definition of every number)."""
    with conn.cursor(row_factory=dict_row) as cur:
        segments = cur.execute(SQL.query("latest_segments"), {"source": run.source}).fetchall()
        roi_rows = cur.execute(SQL.query("latest_roi"), {"source": run.source}).fetchall()
        model = cur.execute(SQL.query("model_metrics"), {"model_version": run.model_version}).fetchone()
        cumulative = cur.execute(SQL.query("cumulative_roi"), {"months": cumulative_months,
                                                               "run_id": run.run_id}).fetchall()
        realized = cur.execute(SQL.query("realized_roi")).fetchall()
        offers = cur.execute(SQL.query("offer_experiments")).fetchall()
        uplift_models = cur.execute(SQL.query("uplift_models"), {"source": run.source}).fetchall()
    if any(s["run_id"] != run.run_id for s in segments + roi_rows + cumulative):
        raise ChurnDBError("a newer run was published while the report was being written; run it again")
    total = sum(s["customers"] for s in segments)
    program = next((r for r in roi_rows if r["risk_category"] == "All"), None)
    value_note = next((s["value_note"] for s in segments if s["value_note"]), None)
    return {
        "run_id": run.run_id, "source": run.source, "value_note": value_note,
        "model_version": run.model_version, "policy_version": run.policy_version,
        "as_of_date": str(run.as_of_date), "published_at": run.finished_at.isoformat(),
        "customers_scored": total,
        "avg_risk_score": round(sum(s["avg_score"] * s["customers"] for s in segments) / total, 2) if total else None,
        "revenue_at_risk": None if value_note else round(sum(s["revenue_at_risk"] or 0 for s in segments), 2),
        "segments": segments,
        "roi_by_category": [r for r in roi_rows if r["risk_category"] != "All"],
        "roi": program or {},
        "model_metrics": {k: model["metrics"].get(k) for k in ("auc", "accuracy", "precision", "recall", "f1",
                                                               "brier", "ece")},
        "model_holdout_rows": model["training"].get("rows_test"),
        "cumulative": [{k: v for k, v in row.items() if k != "run_id"} for row in cumulative],
        "realized": realized,
        "offer_experiments": offers,
        "uplift_models": uplift_models,
    }


def _fmt(value, pattern: str) -> str:
    return "n/a" if value is None else pattern.format(value)


def metrics_text(m: dict) -> str:
    unknown = "unknown" if m.get("value_note") else "n/a"  # the header line says why
    money = lambda v: unknown if v is None else f"${v:,.2f}"  # noqa: E731
    r = m["roi"] or {"targeted": 0, "contacted": 0, "program_cost": 0.0, "expected_retained": 0.0,
                     "expected_revenue_saved": 0.0, "net_benefit": 0.0, "roi": None, "monthly_revenue_saved": 0.0,
                     "monthly_net_benefit": 0.0, "break_even_success_rate": None, "success_rate": None,
                     "horizon_months": None}
    lines = [
        "CHURN SCORING — DEPLOYMENT METRICS",
        f"run {m['run_id']} of source {m.get('source', 'telecom')} published {m['published_at']} "
        f"(snapshot as of {m['as_of_date']}), model {m['model_version']}, policy {m['policy_version']}",
        *([f"Money figures: {m['value_note']} (revenue at risk, savings and ROI are unknown, not zero)"]
          if m.get("value_note") else []),
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
    if m.get("cumulative"):
        lines += ["", f"{len(m['cumulative'])}-MONTH CUMULATIVE (a projection under the policy's assumptions: the "
                      "program repeated monthly, constant policy)",
                  f"  {'month':>5} {'retained':>10} {'revenue saved':>16} {'program cost':>16} {'net benefit':>16} "
                  f"{'cumulative ROI':>15}"]
        for c in m["cumulative"]:
            lines.append(f"  {c['month']:>5} {c['retained']:>10,.1f} {money(c['revenue_saved']):>16} "
                         f"{money(c['program_cost']):>16} {money(c['net_benefit']):>16} "
                         f"{_fmt(c['cumulative_roi'], '{:.2f}x'):>15}")
    lines += ["", "REALIZED (matured campaigns: treatment vs control)"]
    if not m.get("realized"):
        lines.append("  no campaign has matured outcomes yet")
    for c in m.get("realized") or []:
        lines.append(f"  campaign {c['campaign_id']}: {c['status']}; treated {c['treated']:,}, control {c['control']:,}"
                     + (f", uplift {c['uplift']:.1%}, ROI {_fmt(c['roi'], '{:.2f}x')}" if c["uplift"] is not None else ""))
    lines += ["", "OFFER EXPERIMENTS (contacted customers per offer arm vs the segment's control group)"]
    if not m.get("offer_experiments"):
        lines.append("  no offer experiment has matured outcomes yet")
    for o in m.get("offer_experiments") or []:
        measured = (f", churn {o['churn_rate']:.1%} vs control {o['control_churn_rate']:.1%}, uplift {o['uplift']:+.1%} "
                    f"[{o['uplift_low']:+.1%}, {o['uplift_high']:+.1%}]" if o["status"] == "measured" else "")
        lines.append(f"  campaign {o['campaign_id']} {o['risk_category']} arm {o['arm']}: {o['contacted']:,} contacted, "
                     f"{o['control']:,} control{measured}; {o['verdict']}")
    lines += ["", "UPLIFT MODELS (hold-out Qini vs ranking by churn risk; used for targeting only if better)"]
    if not m.get("uplift_models"):
        lines.append("  none yet (`churndb train-uplift --campaign C` once a campaign has matured)")
    for u in m.get("uplift_models") or []:
        lines.append(f"  model {u['model_version']} on campaign {u['campaign_id']}: Qini {u['qini']:+.4f} vs risk "
                     f"{u['qini_risk_ranking']:+.4f}; used for targeting: {'yes' if u['used_for_targeting'] else 'no'}"
                     f" ({u['status']})")
    mm = m["model_metrics"]
    lines += [
        "",
        f"MODEL {m['model_version']} (measured on {m['model_holdout_rows']:,} hold-out rows never used in fitting)",
        "  " + "  ".join(f"{k} {v:.4f}" for k, v in mm.items() if v is not None),
    ]
    return "\n".join(lines) + "\n"


def write_report(url: str, out_dir: Path, cumulative_months: int = CUMULATIVE_MONTHS,
                 source: str = sources.TELECOM) -> dict:
    out_dir = Path(out_dir)
    try:
        with db.connect(url) as conn:
            sources.require(conn, source)
            run = latest_run(conn, source)
            files = {seg: str(out_dir / file_name(seg)) for seg in segments(conn, run)}
            rows = {seg: export(conn, run, seg, Path(path)) for seg, path in files.items()}
            m = deployment_metrics(conn, run, cumulative_months)
            page = charts.render(conn, m, out_dir)
    except psycopg.Error as exc:
        raise db.as_churndb_error(exc) from None
    text_path = out_dir / "deployment_metrics.txt"
    with private_file(text_path, "w") as fh:
        fh.write(metrics_text(m))
    return {"path": str(out_dir), "files": {**files, "metrics": str(text_path), "html": str(page)}, "rows": rows,
            "metrics": m}
