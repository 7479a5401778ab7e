"""View latency at scale (run on demand, not a test).

    .venv/bin/python bench/views_bench.py [--customers 1000000] [--runs 30] [--admin-url URL]

Builds a database with N customers, one real published scoring run
(`churndb score --no-reasons`), then replicates that run's history and summaries
into RUNS published runs in total (INSERT ... SELECT: the views' cost depends
on what the tables hold, not on how it got there), ANALYZEs, and times the
queries BI and DBAs run: median and worst of 20 executions each.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from score_bench import KEY, admin_url, prepare  # noqa: E402

from churndb.base.config import Settings  # noqa: E402
from churndb.scoring.coordinator import score  # noqa: E402

QUERIES = {
    "v_risk_segments": "SELECT * FROM churndb.v_risk_segments",
    "v_roi_projection": "SELECT * FROM churndb.v_roi_projection",
    "v_score_audit (one customer)": "SELECT * FROM churndb.v_score_audit WHERE customer_id = %(customer)s",
    "v_current_scores (one customer)": "SELECT * FROM churndb.v_current_scores WHERE customer_id = %(customer)s",
    "v_score_drift": "SELECT * FROM churndb.v_score_drift",
}

NEW_RUN = """
INSERT INTO churndb.scoring_runs (model_version, policy_version, as_of_date, source, campaign_id, status,
                                  started_at, finished_at, customers_scored, targets, summary)
SELECT model_version, policy_version, as_of_date, source, campaign_id, 'succeeded',
       started_at + make_interval(days => %(i)s), finished_at + make_interval(days => %(i)s),
       customers_scored, targets, summary
FROM churndb.scoring_runs WHERE run_id = %(base)s
RETURNING run_id, started_at
"""
# Each run's rows go into its own partition of its month (migration 0010), as a scoring run's would.
REPLICATE = """
INSERT INTO churndb.score_history
SELECT %(started_at)s, %(run_id)s, h.customer_id, h.model_version, h.churn_probability, h.risk_score, h.risk_category,
       h.retention_action, h.estimated_intervention_cost, h.estimated_revenue_at_risk, h.snapshot_date, h.is_shadow,
       h.top_reasons
FROM churndb.score_history h WHERE h.run_id = %(base)s
"""
SUMMARIES = """
INSERT INTO churndb.run_segment_summary SELECT r.run_id, s.risk_category, s.min_score, s.customers, s.avg_score,
       s.revenue_at_risk, s.intervention_cost
FROM churndb.scoring_runs r, churndb.run_segment_summary s WHERE r.run_id > %(base)s AND s.run_id = %(base)s;
INSERT INTO churndb.run_roi_summary SELECT r.run_id, s.risk_category, s.sort_score, s.targeted, s.contacted,
       s.program_cost, s.expected_retained, s.expected_revenue_saved, s.contacted_revenue_at_risk, s.success_rate,
       s.horizon_months
FROM churndb.scoring_runs r, churndb.run_roi_summary s WHERE r.run_id > %(base)s AND s.run_id = %(base)s;
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--admin-url")
    args = parser.parse_args()
    admin, server = admin_url(args.admin_url)
    work = Path(tempfile.mkdtemp(prefix="churndb-views-bench-"))
    try:
        url = prepare(admin, args.customers, work)
        base = score(url, Settings(database_url=url, home=work, signing_key=KEY), reasons=False)["run_id"]
        t0 = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as conn:
            for i in range(1, args.runs):
                run_id, started_at = conn.execute(NEW_RUN, {"i": i, "base": base}).fetchone()
                conn.execute("SELECT churndb.ensure_score_history_partition(%s), churndb.add_run_history_partition(%s)",
                             (started_at, run_id))
                conn.execute(REPLICATE, {"started_at": started_at, "run_id": run_id, "base": base})
            conn.execute(SUMMARIES.replace("%(base)s", str(base)))
            conn.execute("VACUUM ANALYZE")
            rows = conn.execute("SELECT count(*) FROM churndb.score_history").fetchone()[0]
            print(f"  {args.runs} runs, {rows:,} history rows (replicated in {time.perf_counter() - t0:.0f}s)")
            customer = conn.execute("SELECT customer_id FROM churndb.customer_snapshots "
                                    "ORDER BY customer_id OFFSET %s LIMIT 1", (args.customers // 2,)).fetchone()[0]
            print(f"\n{args.customers:,} customers, {args.runs} published runs ({rows:,} score_history rows)\n")
            print("| query | median ms | worst ms | rows |")
            print("| --- | --- | --- | --- |")
            for name, sql in QUERIES.items():
                times, n = [], 0
                for _ in range(20):
                    t = time.perf_counter()
                    n = len(conn.execute(sql, {"customer": customer}).fetchall())
                    times.append((time.perf_counter() - t) * 1000)
                print(f"| {name} | {statistics.median(times):.1f} | {max(times):.1f} | {n} |")
    finally:
        if server is not None:
            server.cleanup()


if __name__ == "__main__":
    main()
