"""The HTML report: one self-contained page with the plots people look at.

Plots are drawn with matplotlib (Agg) and embedded as base64 PNG, so the file
can be mailed or opened offline.  Every figure comes from the database: the
latest published run (via the BI views), the champion's hold-out curves and
the registry.  A short script marks the page once every chart has loaded
(``data-charts-drawn``), which the browser test reads.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import psycopg  # noqa: E402

from ..store.copy import private_file  # noqa: E402
from ..store.sqlfiles import statements  # noqa: E402

SQL = statements(__name__)

COLORS = {"Critical": "#c0392b", "High": "#e67e22", "Medium": "#f1c40f", "Low": "#27ae60"}


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _score_histogram(conn, run_id: int):
    rows = conn.execute(SQL.query("score_histogram"), {"run_id": run_id}).fetchall()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    scores = [r[0] for r in rows]
    # Coloured by the category the run's policy assigned, not by thresholds written here.
    ax.bar(scores, [r[2] for r in rows], width=1.0, color=[COLORS.get(r[1], "#7f8c8d") for r in rows])
    ax.set_xlabel("risk score")
    ax.set_ylabel("customers")
    ax.set_title("Risk score distribution (latest run)")
    return _png(fig)


def _segments(segments, value_note: str | None = None):
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.2))
    names = [s["risk_category"] for s in segments]
    colors = [COLORS.get(n, "#7f8c8d") for n in names]
    a1.bar(names, [s["customers"] for s in segments], color=colors)
    a1.set_title("Customers per segment")
    a2.bar(names, [s["revenue_at_risk"] or 0.0 for s in segments], color=colors)
    a2.set_title(f"Revenue at risk: {value_note}" if value_note else "Revenue at risk per segment ($)")
    return _png(fig)


def _waterfall(roi):
    cost = roi.get("program_cost") or 0.0
    if roi.get("value_note"):  # no value column: the cost is known, the return is not (and is not drawn as 0)
        fig, ax = plt.subplots(figsize=(6, 3.2))
        ax.bar(["program cost"], [cost], color="#c0392b")
        ax.set_title(f"Program cost; return unknown: {roi['value_note']}")
        return _png(fig)
    saved = roi.get("expected_revenue_saved") or 0.0
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.bar(["expected revenue saved"], [saved], color="#27ae60")
    ax.bar(["program cost"], [-cost], bottom=[saved], color="#c0392b")
    ax.bar(["net benefit"], [saved - cost], color="#2980b9")
    ax.axhline(0, color="black", linewidth=0.8)
    roi_text = "n/a" if roi.get("roi") is None else f"{roi['roi']:.2f}x"
    ax.set_title(f"Projected program return (ROI {roi_text})")
    return _png(fig)


def _calibration(deciles):
    fig, ax = plt.subplots(figsize=(4.5, 4))
    pred = [d["predicted_rate"] for d in deciles]
    obs = [d["observed_rate"] for d in deciles]
    ax.plot([0, 1], [0, 1], "--", color="grey", linewidth=0.8)
    ax.plot(pred, obs, "o-", color="#2980b9")
    ax.set_xlabel("predicted churn rate")
    ax.set_ylabel("observed churn rate")
    ax.set_title("Calibration by score decile (hold-out)")
    return _png(fig)


def _roc_gains(curves):
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 4))
    roc = curves.get("roc", [])
    a1.plot([p[0] for p in roc], [p[1] for p in roc], color="#8e44ad")
    a1.plot([0, 1], [0, 1], "--", color="grey", linewidth=0.8)
    a1.set_xlabel("false positive rate")
    a1.set_ylabel("true positive rate")
    a1.set_title("ROC (hold-out)")
    gains = curves.get("gains", [])
    a2.plot([p[0] for p in gains], [p[1] for p in gains], color="#16a085")
    a2.plot([0, 1], [0, 1], "--", color="grey", linewidth=0.8)
    a2.set_xlabel("share of customers contacted (highest risk first)")
    a2.set_ylabel("share of churners reached")
    a2.set_title("Cumulative gains (hold-out)")
    return _png(fig)


def _drift(rows):
    fig, ax = plt.subplots(figsize=(7, 3.2))
    runs = [str(r[0]) for r in rows]
    ax.plot(runs, [r[2] for r in rows], "o-", color="#2c3e50", label="mean risk score")
    ax.set_ylabel("mean risk score")
    ax2 = ax.twinx()
    ax2.plot(runs, [r[3] or 0 for r in rows], "s--", color="#e67e22", label="score PSI")
    ax2.plot(runs, [r[4] or 0 for r in rows], "^--", color="#c0392b", label="max input PSI")
    ax2.axhline(0.2, color="#c0392b", linewidth=0.6, linestyle=":")
    ax2.set_ylabel("PSI")
    ax.set_xlabel("run")
    ax.set_title("Drift over runs")
    fig.legend(loc="upper left", fontsize=7)
    return _png(fig)


def _models(rows):
    fig, ax = plt.subplots(figsize=(7, 3.2))
    rows = list(reversed(rows))
    labels = [f"v{r[0]}\n{r[1]}" for r in rows]
    x = range(len(rows))
    ax.bar([i - 0.2 for i in x], [r[2] or 0 for r in rows], width=0.4, label="AUC", color="#2980b9")
    ax.bar([i + 0.2 for i in x], [r[3] or 0 for r in rows], width=0.4, label="Brier", color="#95a5a6")
    ax.set_xticks(list(x), labels, fontsize=7)
    ax.set_title("Champion and challengers (hold-out metrics)")
    ax.legend(fontsize=7)
    return _png(fig)


def _qini(row):
    """Qini curves of the newest uplift model and of churn-risk ranking on its hold-out, with the random line."""
    version, campaign, curve, risk_curve, q, q_risk, used = row
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for points, label, color in ((curve, f"uplift model v{version} (Qini {q:+.4f})", "#8e44ad"),
                                 (risk_curve, f"churn-risk ranking (Qini {q_risk:+.4f})", "#e67e22")):
        xs, ys = [0] + [p[0] for p in points], [0.0] + [p[1] for p in points]
        ax.plot(xs, ys, label=label, color=color)
    if curve:
        ax.plot([0, curve[-1][0]], [0, curve[-1][1]], linestyle="--", color="#95a5a6", label="random")
    ax.set_xlabel(f"customers contacted, best first (hold-out of campaign {campaign})")
    ax.set_ylabel("extra customers retained")
    ax.set_title("Qini: used for targeting" if used else "Qini: not used (does not beat risk ranking)")
    ax.legend(fontsize=7)
    return _png(fig)


def _offers_table(rows: list[dict]) -> str:
    """Offer experiments: each arm against its segment's control group, a winner only beyond doubt."""
    pct = lambda v: "" if v is None else f"{v:+.1%}"  # noqa: E731
    cells = "".join(
        f"<tr><td>{html.escape(str(r['campaign_id']))}</td><td>{html.escape(r['risk_category'])}</td>"
        f"<td>{html.escape(r['arm'])}</td><td>{r['contacted']:,}</td><td>{r['control']:,}</td>"
        f"<td>{pct(r['uplift'])}</td><td>{pct(r['uplift_low'])} .. {pct(r['uplift_high'])}</td>"
        f"<td>{'' if r['cost_per_saved'] is None else format(r['cost_per_saved'], ',.0f')}</td>"
        f"<td>{html.escape(r['verdict'])}</td></tr>" for r in rows)
    if not rows:
        return '<section id="offers"><h2>Offer experiments</h2><p>No offer experiment has matured outcomes yet.</p></section>'
    return ('<section id="offers"><h2>Offer experiments</h2><p>Contacted customers per offer arm against the segment\'s '
            'control group; an arm is called better only when the 95% interval of its difference to every other arm '
            'excludes zero.</p><table><tr><th>campaign</th><th>segment</th><th>arm</th><th>contacted</th><th>control</th>'
            f"<th>uplift</th><th>95% interval</th><th>cost per saved</th><th>verdict</th></tr>{cells}</table></section>")


def _cumulative_table(rows: list[dict]) -> str:
    """The guide's cumulative table, labelled for what it is: a projection."""
    if not rows:
        return ""
    money = lambda v: "n/a" if v is None else f"${v:,.0f}"  # noqa: E731
    cells = "".join(f"<tr><td>{r['month']}</td><td>{r['retained']:,.1f}</td><td>{money(r['revenue_saved'])}</td>"
                    f"<td>{money(r['program_cost'])}</td><td>{money(r['net_benefit'])}</td>"
                    f"<td>{'n/a' if r['cumulative_roi'] is None else format(r['cumulative_roi'], '.2f') + 'x'}</td></tr>"
                    for r in rows)
    return (f'<section id="cumulative"><h2>{len(rows)}-month cumulative ROI (projection)</h2>'
            "<p>A projection under the policy's assumptions (success rate, horizon), the program repeated each month; "
            "realized figures are in deployment_metrics.txt once campaigns mature.</p>"
            "<table><tr><th>month</th><th>retained</th><th>revenue saved</th><th>program cost</th>"
            f"<th>net benefit</th><th>cumulative ROI</th></tr>{cells}</table></section>")


def render(conn: psycopg.Connection, metrics: dict, out: Path) -> Path:
    """Write ``report.html`` into ``out``; ``metrics`` is report.deployment_metrics() of the latest run."""
    deciles, curves = conn.execute(SQL.query("model_curves"), {"model_version": metrics["model_version"]}).fetchone()
    source = metrics.get("source", "telecom")
    charts = [
        ("Risk scores", _score_histogram(conn, metrics["run_id"])),
        ("Segments and revenue at risk", _segments(metrics["segments"], metrics.get("value_note"))),
        ("Return on the retention program", _waterfall(metrics["roi"] or {})),
        ("Calibration", _calibration(deciles or [])),
        ("ROC and cumulative gains", _roc_gains(curves or {})),
        ("Drift over runs", _drift(conn.execute(SQL.query("drift_over_runs"), {"source": source}).fetchall())),
        ("Champion vs challengers", _models(conn.execute(SQL.query("recent_models"), {"source": source}).fetchall())),
    ]
    uplift = conn.execute(SQL.query("uplift_curves"), {"source": source}).fetchone()
    if uplift is not None:
        charts.append(("Qini: uplift model vs churn-risk ranking", _qini(uplift)))
    r = metrics["roi"] or {}
    unknown = metrics.get("value_note") or "n/a"
    money = lambda v: unknown if v is None else f"${v:,.0f}"  # noqa: E731
    tiles = [("customers scored", f"{metrics['customers_scored']:,}"),
             ("average risk score", f"{metrics['avg_risk_score']}"),
             ("revenue at risk", money(metrics["revenue_at_risk"])),
             ("program cost", money(r.get("program_cost"))),
             ("expected revenue saved", money(r.get("expected_revenue_saved"))),
             ("projected ROI", "n/a" if r.get("roi") is None else f"{r['roi']:.2f}x"),
             ("model AUC (hold-out)", f"{metrics['model_metrics']['auc']:.3f}")]
    body = "\n".join(f'<section><h2>{html.escape(title)}</h2><img alt="{html.escape(title)}" '
                     f'src="data:image/png;base64,{png}"></section>' for title, png in charts)
    body += _cumulative_table(metrics.get("cumulative") or [])
    body += _offers_table(metrics.get("offer_experiments") or [])
    tile_html = "".join(f'<div class="tile"><div class="v">{html.escape(v)}</div><div class="k">{html.escape(k)}'
                        f"</div></div>" for k, v in tiles)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>churndb — run {metrics['run_id']}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #2c3e50; max-width: 1100px; }}
.tiles {{ display: flex; flex-wrap: wrap; gap: .8rem; margin: 1rem 0 2rem; }}
.tile {{ background: #f4f6f7; border-radius: 6px; padding: .8rem 1rem; min-width: 130px; }}
.tile .v {{ font-size: 1.4rem; font-weight: 600; }} .tile .k {{ font-size: .8rem; color: #7f8c8d; }}
section {{ margin-bottom: 2rem; }} img {{ max-width: 100%; }}
</style></head>
<body data-charts="{len(charts)}">
<h1>Churn scoring — run {metrics['run_id']}</h1>
<p>Published {html.escape(metrics['published_at'])}; snapshot as of {html.escape(metrics['as_of_date'])};
model {metrics['model_version']}, policy {metrics['policy_version']}. Every figure is computed from the run;
model metrics are measured on {metrics['model_holdout_rows'] or 0:,} hold-out rows never used in fitting.</p>
<div class="tiles">{tile_html}</div>
{body}
<script>
window.addEventListener("load", function () {{
  var drawn = Array.prototype.filter.call(document.images, function (i) {{ return i.complete && i.naturalWidth > 0; }});
  document.body.setAttribute("data-charts-drawn", String(drawn.length));
}});
</script>
</body></html>
"""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.html"
    with private_file(path, "w") as fh:
        fh.write(page)
    return path
