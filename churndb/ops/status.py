"""What is loaded, trained and published (``churndb status``, the demo's last step): batches and
snapshots, the champion, the last published run and the last job failures."""

from __future__ import annotations

from typing import Any

from ..store import db
from ..store.sqlfiles import statements

SQL = statements(__name__)


def status(url: str) -> dict[str, Any]:
    with db.connect(url) as conn:
        batches, rows_in, loaded, rejected = conn.execute(SQL.query("batch_totals")).fetchone()
        snapshots = [
            {"as_of_date": d.isoformat(), "customers": c, "labelled": lab,
             "churn_rate": None if rate is None else round(rate, 4)}
            for d, c, lab, rate in conn.execute(SQL.query("snapshot_summary")).fetchall()
        ]
        champion = conn.execute(SQL.query("champion_summary")).fetchone()
        run = conn.execute(SQL.query("last_published_run")).fetchone()
        failures = conn.execute(SQL.query("recent_job_failures")).fetchall()
    lines = [f"ingest: {batches} batches, {rows_in:,} rows in = {loaded:,} loaded + {rejected:,} rejected"]
    for s in snapshots:
        rate = "n/a" if s["churn_rate"] is None else f"{s['churn_rate']:.1%}"
        lines.append(f"snapshot {s['as_of_date']}: {s['customers']:,} customers, {s['labelled']:,} labelled, churn rate {rate}")
    model = None
    if champion:
        version, auc, created, promoted, age_days = champion
        model = {"model_version": version, "holdout_auc": auc, "created_at": created.isoformat(),
                 "promoted_at": promoted.isoformat() if promoted else None, "age_days": round(age_days, 1)}
        lines.append(f"champion: model {version}, hold-out AUC " + ("n/a" if auc is None else f"{auc:.4f}")
                     + f", trained {age_days:.1f} days ago")
    else:
        lines.append("champion: none (train one and `churndb models promote V`)")
    published = None
    if run:
        run_id, finished, customers, targets, version = run
        published = {"run_id": run_id, "published_at": finished.isoformat(), "customers_scored": customers,
                     "targets": targets, "model_version": version}
        lines.append(f"published: run {run_id} at {finished:%Y-%m-%d %H:%M} UTC, {customers:,} customers, "
                     f"{targets:,} retention targets (model {version})")
    else:
        lines.append("published: no run yet (`churndb score`)")
    failed = [{"job": j, "started_at": at.isoformat(), "error": e} for j, at, e in failures]
    for f in failed:
        lines.append(f"job failure: {f['job']} at {f['started_at'][:16]}: {f['error']}")
    return {"batches": batches, "rows_in": rows_in, "rows_loaded": loaded, "rows_rejected": rejected,
            "snapshots": snapshots, "champion": model, "last_published_run": published, "job_failures": failed,
            "_lines": lines}
