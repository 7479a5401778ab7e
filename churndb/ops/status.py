"""A short account of what the database holds (``churndb status``, the demo's last step)."""

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
    lines = [f"ingest: {batches} batches, {rows_in:,} rows in = {loaded:,} loaded + {rejected:,} rejected"]
    for s in snapshots:
        rate = "n/a" if s["churn_rate"] is None else f"{s['churn_rate']:.1%}"
        lines.append(f"snapshot {s['as_of_date']}: {s['customers']:,} customers, {s['labelled']:,} labelled, churn rate {rate}")
    return {"batches": batches, "rows_in": rows_in, "rows_loaded": loaded, "rows_rejected": rejected,
            "snapshots": snapshots, "_lines": lines}
