"""Scale-out benchmark: the local executor vs a Dask LocalCluster (run on demand, not a test).

    .venv/bin/python bench/scaleout_bench.py --rows 1000000 --rows 5000000 [--workers 2] [--admin-url URL]

One database (embedded server unless --admin-url): a model trained on 25,000
customers; 1,000,000 customers ingested through `churndb ingest` for the
scoring date, then copied in SQL under new customer ids (+10M, +20M, ...) up to
the largest size (the bench measures scoring, not ingest).  For each size,
each variant runs in a process of its own:

  local     churndb score --no-reasons (one process: 2 I/O threads, predictions on every core)
  dask      churndb score --no-reasons --executor dask on a LocalCluster of --workers processes
  local+r / dask+r   the same with reason codes (TreeSHAP), at the first size only

and reports customers/second, the coordinator's peak RSS, each Dask worker's
peak RSS, and PostgreSQL's rate for the publish (rows moved from staging into
score_history per second).  Prints markdown tables for the README, including
the projection to 50M customers on 10 workers from the measured rates.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from score_bench import KEY, SCORE_DATE, TRAIN_DATE, admin_url, own_peak_mb, with_db  # noqa: E402

from churndb.store import db, migrate, registry  # noqa: E402
from churndb.base.config import Settings  # noqa: E402
from churndb.ingest.snapshot import ingest_snapshot  # noqa: E402
from churndb.model.sample import write_sample  # noqa: E402
from churndb.training.candidate import train  # noqa: E402
from churndb.training.spec import TrainingSpec  # noqa: E402

BASE_ROWS = 1_000_000
ID_STRIDE = 10_000_000


def prepare(admin: str, work: Path) -> str:
    name = f"churndb_scaleout_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_db(admin, name)
    migrate.upgrade(url)
    settings = Settings(database_url=url, home=work, signing_key=KEY)
    write_sample(25_000, work / "train.csv", seed=1)
    ingest_snapshot(url, work / "train.csv", TRAIN_DATE)
    result = train(url, settings, TrainingSpec(end=TRAIN_DATE))
    with db.transaction(url) as conn:
        registry.promote(conn, result["model_version"], "benchmark")
    write_sample(BASE_ROWS, work / "score.csv", seed=2)
    ingest_snapshot(url, work / "score.csv", SCORE_DATE)
    return url


def with_capacity(url: str, capacity: int) -> None:
    """A new policy in force: the default one's bands with a contact capacity (the publish then refreshes
    at most ``capacity`` targets, whatever the number of customers)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("""
            WITH p AS (INSERT INTO churndb.segment_policy (effective_from, success_rate, value_horizon_months,
                                                           control_share, contact_capacity)
                       SELECT now(), success_rate, value_horizon_months, control_share, %(capacity)s
                       FROM churndb.segment_policy WHERE policy_version = 1 RETURNING policy_version)
            INSERT INTO churndb.segment_policy_bands SELECT p.policy_version, b.risk_category, b.min_score,
                   b.max_score, b.retention_action, b.intervention_cost, b.targeted
            FROM p, churndb.segment_policy_bands b WHERE b.policy_version = 1""", {"capacity": capacity})


def grow_to(url: str, rows: int) -> None:
    """Copies of the scoring date's customers under new ids until ``rows`` customers are scored."""
    with psycopg.connect(url, autocommit=True) as conn:
        have = conn.execute("SELECT count(*) FROM churndb.customer_snapshots WHERE as_of_date = %s",
                            (SCORE_DATE,)).fetchone()[0]
        columns = [r[0] for r in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'churndb.customer_snapshots'::regclass "
            "AND attnum > 0 AND NOT attisdropped AND attname <> 'customer_id' ORDER BY attnum").fetchall()]
        cols = sql.SQL(", ").join(map(sql.Identifier, columns))
        while have < rows:
            copy = have // BASE_ROWS
            conn.execute(sql.SQL("INSERT INTO churndb.customer_snapshots (customer_id, {cols}) "
                                 "SELECT customer_id + %s, {cols} FROM churndb.customer_snapshots "
                                 "WHERE as_of_date = %s AND customer_id < %s").format(cols=cols),
                         (copy * ID_STRIDE, SCORE_DATE, ID_STRIDE))
            have += BASE_ROWS
        conn.execute("VACUUM ANALYZE churndb.customer_snapshots")


def run_variant(variant: str, url: str, home: Path, workers: int) -> dict:
    env = {**os.environ, "CHURNDB_DATABASE_URL": url, "CHURNDB_HOME": str(home), "CHURNDB_SIGNING_KEY": KEY}
    cmd = [sys.executable, __file__, "--variant", variant, "--url", url, "--workers", str(workers)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"variant {variant} failed: {proc.stderr.strip()[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall_seconds"] = round(time.perf_counter() - t0, 1)
    return out


def variant(name: str, url: str, workers: int) -> dict:
    from churndb.scoring.coordinator import ScoreOptions, score

    settings = Settings(database_url=url, home=Path(tempfile.gettempdir()), signing_key=KEY)
    reasons = name.endswith("+r")
    if name.startswith("local"):
        out = score(url, settings, reasons=reasons)
        out["worker_peak_mb"] = []
    else:
        from dask.distributed import Client, LocalCluster

        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            out = score(url, settings, reasons=reasons,
                        options=ScoreOptions(executor="dask", scheduler=cluster.scheduler_address))
            out["worker_peak_mb"] = sorted(round(v) for v in client.run(own_peak_mb).values())
    out["peak_mb"] = round(own_peak_mb())
    with psycopg.connect(url) as conn:
        out["publish_rows"] = conn.execute("SELECT customers_scored FROM churndb.scoring_runs WHERE run_id = %s",
                                           (out["run_id"],)).fetchone()[0]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, action="append")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--admin-url")
    parser.add_argument("--variants", default="local,dask,local+r,dask+r", help="variants at the first size")
    parser.add_argument("--variants-large", default="local,dask", help="variants at the larger sizes")
    parser.add_argument("--capacity", type=int, help="a policy with this contact capacity (default: none)")
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(variant(args.variant, args.url, args.workers), default=str))
        return
    sizes = sorted(args.rows or [BASE_ROWS, 5 * BASE_ROWS])
    admin, server = admin_url(args.admin_url)
    work = Path(tempfile.mkdtemp(prefix="churndb-scaleout-"))
    results = []
    try:
        url = prepare(admin, work)
        if args.capacity:
            with_capacity(url, args.capacity)
        for i, rows in enumerate(sizes):
            grow_to(url, rows)
            for v in (args.variants if i == 0 else args.variants_large).split(","):
                out = run_variant(v, url, work / "home", args.workers)
                out["rows"] = rows
                print(f"  {rows:,} {v}: {json.dumps(out)[:600]}", flush=True)
                results.append((rows, v, out))
    finally:
        if server is not None:
            server.cleanup()
    report(results, args.workers)


def report(results, workers: int) -> None:
    print("\n| customers | executor | seconds | customers/s | coordinator peak MB | worker peak MB | stages (s) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for rows, v, out in results:
        label = {"local": "local", "dask": f"dask, LocalCluster({workers})", "local+r": "local, reason codes",
                 "dask+r": f"dask({workers}), reason codes"}[v]
        print(f"| {rows:,} | {label} | {out['seconds']:.1f} | {rows / out['seconds']:,.0f} | {out['peak_mb']:,} | "
              f"{', '.join(map(str, out['worker_peak_mb'])) or '-'} | "
              f"{ {k: round(s, 1) for k, s in out['stage_seconds'].items()} } |")
    by = {(rows, v): out for rows, v, out in results}
    largest = max(rows for rows, _, _ in results)
    local, dask = by[(largest, "local")], by[(largest, "dask")]
    print(f"\nscaling ratio at {largest:,} (local seconds / dask seconds): {local['seconds'] / dask['seconds']:.2f}")
    # Projection: workers' scoring phase from the measured per-worker rate; the targets build from the
    # measured PostgreSQL rate (it grows with the run: one server; on Citus it runs per shard); the
    # publish as measured at the largest size (a swap of partitions: it does not grow with the run).
    scoring_phase = dask["stage_seconds"]["partitions"]
    per_worker = largest / scoring_phase / workers
    targets_rate = largest / max(dask["stage_seconds"].get("targets", 0.0), 1e-9)
    publish = dask["stage_seconds"]["publish"]
    smallest = min(rows for rows, _, _ in results)
    for v in ("local", "dask"):
        if (smallest, v) in by and smallest != largest:
            ratio = by[(largest, v)]["stage_seconds"]["publish"] / by[(smallest, v)]["stage_seconds"]["publish"]
            print(f"publish at {largest:,} / publish at {smallest:,} ({v}): {ratio:.2f}")
    target, nodes = 50_000_000, 10
    phase = target / (per_worker * nodes)
    build = target / targets_rate
    print(f"per-worker rate {per_worker:,.0f} customers/s; targets build {targets_rate:,.0f} customers/s; "
          f"publish {publish:.1f} s")
    print("\n| projection: 50M customers, 10 workers | seconds |\n| --- | --- |")
    print(f"| scoring phase (50M / ({per_worker:,.0f}/s x 10)) | {phase:,.0f} |")
    print(f"| targets build on one PostgreSQL ({targets_rate:,.0f} customers/s) | {build:,.0f} |")
    print(f"| publish (as measured at {largest:,}: a swap) | {publish:,.1f} |")
    print(f"| total | {phase + build + publish:,.0f} |")


if __name__ == "__main__":
    main()
