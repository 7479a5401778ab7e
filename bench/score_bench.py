"""Scoring benchmark (run on demand, not a test).

    .venv/bin/python bench/score_bench.py --rows 1000000 [--rows 3000000] [--admin-url URL]

For each size, in a fresh database (embedded server unless --admin-url names a
server where databases may be created), with a model trained on a separate
25,000-row snapshot, measures:

  (a) churndb's scoring run end to end (what `churndb score` calls), in its own process;
  (n) the same with --no-reasons (no TreeSHAP), the like-for-like comparison with (b) and (c);
  (b) the original way: pandas read_sql of the whole latest snapshot, the same
      pipeline's predict_proba and policy, DataFrame.to_sql of the results;
Every variant runs in a process of its own and reports that process's peak RSS.
  (c) the floor, each step timed alone: COPY of the rows out, feature preparation, the three base
      models' own predict_proba on the feature matrix, COPY of the result rows in.

Prints a markdown table for the README.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import resource
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

from churndb.store import db, migrate, registry  # noqa: E402
from churndb.base.config import Settings  # noqa: E402
from churndb.ingest.snapshot import ingest_snapshot  # noqa: E402
from churndb.store.segment_policy import policy_in_force  # noqa: E402
from churndb.model.sample import write_sample  # noqa: E402
from churndb.store.signing import signing_key  # noqa: E402
from churndb.training.candidate import train  # noqa: E402
from churndb.training.spec import TrainingSpec  # noqa: E402

KEY = "bench-signing-key-not-a-secret-0123456789"
TRAIN_DATE, SCORE_DATE = dt.date(2026, 6, 30), dt.date(2026, 9, 30)


def admin_url(arg: str | None):
    return (arg, None) if arg else db.throwaway_server("churndb-bench-pg-")


def with_db(url: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def run_variant(variant: str, url: str, home: Path) -> dict:
    """Run one variant in its own process so its peak memory is its own."""
    env = {**os.environ, "CHURNDB_DATABASE_URL": url, "CHURNDB_HOME": str(home), "CHURNDB_SIGNING_KEY": KEY}
    cmd = [sys.executable, __file__, "--variant", variant, "--url", url]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"variant {variant} failed: {proc.stderr.strip()}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out.setdefault("seconds", seconds)
    out["wall_seconds"] = seconds
    return out


def own_peak_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss it is not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def variant_a(url: str, reasons: bool = True) -> dict:
    """churndb's own scoring run, exactly what `churndb score` calls."""
    from churndb.scoring.coordinator import score

    settings = Settings(database_url=url, home=Path(tempfile.gettempdir()), signing_key=KEY)
    out = score(url, settings, reasons=reasons)
    out["peak_mb"] = own_peak_mb()
    return out


def variant_b(url: str) -> dict:
    """The original scripts' way: read_sql everything, predict, to_sql."""
    import pandas as pd
    from sqlalchemy import create_engine

    settings = Settings(database_url=url, home=Path(tempfile.gettempdir()), signing_key=KEY)
    with db.connect(url) as conn:
        _, model, _ = registry.load(conn, signing_key(settings), "champion")
        policy = policy_in_force(conn)
    engine = create_engine(db.sqlalchemy_url(url))
    t0 = time.perf_counter()
    frame = pd.read_sql("SELECT DISTINCT ON (customer_id) * FROM churndb.customer_snapshots "
                        "ORDER BY customer_id, as_of_date DESC", engine)
    t1 = time.perf_counter()
    p = model.predict_proba(frame)[:, 1]
    scored = policy.apply(p, frame["monthly_charges"].fillna(0).to_numpy())
    scored.insert(0, "customer_id", frame["customer_id"].to_numpy())
    t2 = time.perf_counter()
    scored.to_sql("naive_scores", engine, schema="public", if_exists="replace", index=False, chunksize=10_000)
    t3 = time.perf_counter()
    return {"seconds": t3 - t0, "read": t1 - t0, "predict": t2 - t1, "write": t3 - t2,
            "customers": len(frame), "peak_mb": own_peak_mb()}


def variant_c(url: str) -> dict:
    """The floor: each step alone, nothing else: COPY out, feature preparation, the learners' own predict,
    COPY in (issue 15's definition; parsing the COPY text is not counted)."""
    import numpy as np
    import pandas as pd

    settings = Settings(database_url=url, home=Path(tempfile.gettempdir()), signing_key=KEY)
    with db.connect(url) as conn:
        _, model, _ = registry.load(conn, signing_key(settings), "champion")
        t0 = time.perf_counter()
        buf = io.BytesIO()
        with conn.cursor() as cur, cur.copy(
                "COPY (SELECT DISTINCT ON (customer_id) * FROM churndb.customer_snapshots "
                "ORDER BY customer_id, as_of_date DESC) TO STDOUT WITH (FORMAT csv, HEADER true)") as cp:
            for block in cp:
                buf.write(block)
        copy_out = time.perf_counter() - t0
        buf.seek(0)
        frame = pd.read_csv(buf)  # the parse is not counted: the floor stays below any real reader
        t0 = time.perf_counter()
        matrix = model.matrix(frame)  # feature preparation, part of the floor as issue 15 defines it
        prepare = time.perf_counter() - t0
        t0 = time.perf_counter()
        probs = [model.member(name).predict_proba(matrix)[:, 1] for name in model.member_names]
        predict = time.perf_counter() - t0
        # The same result rows churndb writes to score_history, into a table with the same indexes.
        policy = policy_in_force(conn)
        scored = policy.apply(np.mean(probs, axis=0), frame["monthly_charges"].fillna(0).to_numpy())
        rows = pd.DataFrame({"scored_at": "2026-10-01T00:00:00+00:00", "run_id": 1, "customer_id": frame["customer_id"],
                             "model_version": 1, **{c: scored[c] for c in ("churn_probability", "risk_score",
                             "risk_category", "retention_action", "estimated_intervention_cost",
                             "estimated_revenue_at_risk")}, "snapshot_date": frame["as_of_date"], "is_shadow": False,
                             "top_reasons": None, "source": "telecom", "customer_key": frame["customer_id"].astype(str),
                             "offer_arm": None, "expected_uplift": None})
        conn.execute("CREATE TABLE public.floor_history (LIKE churndb.score_history INCLUDING DEFAULTS INCLUDING INDEXES)")
        text = rows.to_csv(index=False, header=False)
        t0 = time.perf_counter()
        with conn.cursor() as cur, cur.copy("COPY public.floor_history FROM STDIN WITH (FORMAT csv)") as cp:
            cp.write(text)
        conn.commit()
        copy_in = time.perf_counter() - t0
    return {"seconds": copy_out + prepare + predict + copy_in, "copy_out": copy_out, "prepare": prepare,
            "predict": predict, "copy_in": copy_in, "customers": len(frame), "peak_mb": own_peak_mb()}


def prepare(admin: str, rows: int, work: Path) -> str:
    name = f"churndb_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_db(admin, name)
    migrate.upgrade(url)
    settings = Settings(database_url=url, home=work, signing_key=KEY)
    train_csv, score_csv = work / "train.csv", work / f"score_{rows}.csv"
    write_sample(25_000, train_csv, seed=1)
    ingest_snapshot(url, train_csv, TRAIN_DATE)
    result = train(url, settings, TrainingSpec(end=TRAIN_DATE))
    with db.transaction(url) as conn:
        registry.promote(conn, result["model_version"], "benchmark")
    if not score_csv.exists():
        write_sample(rows, score_csv, seed=2)
    t0 = time.perf_counter()
    ingest_snapshot(url, score_csv, SCORE_DATE)
    print(f"  prepared {rows:,} customers (ingest {time.perf_counter() - t0:.0f}s)", flush=True)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return url


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, action="append")
    parser.add_argument("--admin-url")
    parser.add_argument("--variants", default="ancb")
    parser.add_argument("--variants-large", default="an", help="variants for sizes after the first")
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        run = {"a": variant_a, "n": lambda u: variant_a(u, reasons=False), "b": variant_b, "c": variant_c}[args.variant]
        print(json.dumps(run(args.url), default=str))
        return
    admin, server = admin_url(args.admin_url)
    work = Path(tempfile.mkdtemp(prefix="churndb-bench-"))
    results = []
    try:
        for rows in args.rows or [1_000_000]:
            url = prepare(admin, rows, work)
            for v in (args.variants if rows == (args.rows or [1_000_000])[0] else args.variants_large):
                out = run_variant(v, url, work / "home")
                print(f"  {rows:,} variant {v}: {json.dumps(out)[:400]}", flush=True)
                results.append((rows, v, out))
    finally:
        if server is not None:
            server.cleanup()
    print("\n| customers | variant | seconds | customers/s | peak RSS MB | detail |")
    print("| --- | --- | --- | --- | --- | --- |")
    names = {"a": "churndb score (end to end, with reason codes)", "n": "churndb score --no-reasons", "b": "read_sql + predict_proba + to_sql",
             "c": "floor: COPY out + features + 3 models' predict + COPY in"}
    for rows, v, out in results:
        detail = out.get("stage_seconds") or {k: round(out[k], 1) for k in ("read", "predict", "write", "copy_out", "prepare",
                                                                             "copy_in") if k in out}
        print(f"| {rows:,} | {names[v]} | {out['seconds']:.1f} | {rows / out['seconds']:,.0f} | "
              f"{out.get('peak_mb', 0):,.0f} | {detail} |")


if __name__ == "__main__":
    main()
