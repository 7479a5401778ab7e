"""Load: 50 concurrent clients (scoring single customers, reading retention_targets) while a batch
score runs.  Loopback only, bounded in time (CHURNDB_LOAD_SECONDS, default 60) and count; zero errors."""

import json
import os
import random
import statistics
import threading
import time
from pathlib import Path

import psycopg
import pytest

from churndb import ChurnScorer
from tests.conftest import ROOT, run_score

CLIENTS = 50
SECONDS = float(os.environ.get("CHURNDB_LOAD_SECONDS", "60"))
MAX_CALLS_PER_CLIENT = 100_000


@pytest.mark.slow
def test_fifty_clients_during_a_batch_score(trained_db_url, trained_conn, cli, cli_process):
    run_score(cli)
    scorer = ChurnScorer.from_database()
    cursor = trained_conn.execute("SELECT * FROM customer_snapshots LIMIT 500")
    names = [d.name for d in cursor.description]
    customers = [dict(zip(names, row)) for row in cursor.fetchall()]
    target_ids = [r[0] for r in trained_conn.execute("SELECT customer_id FROM retention_targets").fetchall()]
    latencies: dict[str, list[float]] = {"score_customer": [], "read_targets": []}
    errors: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + SECONDS

    def scoring_client(seed):
        rng = random.Random(seed)
        for _ in range(MAX_CALLS_PER_CLIENT):
            if time.monotonic() > stop:
                return
            t = time.perf_counter()
            try:
                result = scorer.score_customer(rng.choice(customers))
                assert 0 <= result["risk_probability"] <= 1
            except Exception as exc:  # counted, reported, and fails the test
                with lock:
                    errors.append(f"score_customer: {exc}")
                continue
            with lock:
                latencies["score_customer"].append(time.perf_counter() - t)

    def reading_client(seed):
        rng = random.Random(seed)
        with psycopg.connect(trained_db_url, options="-c search_path=churndb", autocommit=True) as conn:
            for _ in range(MAX_CALLS_PER_CLIENT):
                if time.monotonic() > stop:
                    return
                t = time.perf_counter()
                try:
                    conn.execute("SELECT customer_id, risk_score, risk_category, retention_action, top_reasons, "
                                 "treatment_group FROM retention_targets WHERE customer_id = %s",
                                 (rng.choice(target_ids),)).fetchall()
                except psycopg.Error as exc:
                    with lock:
                        errors.append(f"read_targets: {exc}")
                    continue
                with lock:
                    latencies["read_targets"].append(time.perf_counter() - t)

    threads = [threading.Thread(target=scoring_client if i % 2 else reading_client, args=(i,))
               for i in range(CLIENTS)]
    batch_runs = 0
    for th in threads:
        th.start()
    while time.monotonic() < stop:  # batch scoring runs back to back for the whole window
        proc = cli_process("score")
        proc.communicate(timeout=600)
        assert proc.returncode == 0
        batch_runs += 1
    for th in threads:
        th.join(timeout=120)
    assert not errors, errors[:5]
    figures = {"clients": CLIENTS, "seconds": SECONDS, "batch_runs_during_load": batch_runs}
    for name, values in latencies.items():
        assert values, f"no {name} calls completed"
        ordered = sorted(values)
        figures[name] = {"calls": len(values), "per_second": round(len(values) / SECONDS, 1),
                         "p50_ms": round(statistics.median(ordered) * 1000, 1),
                         "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))] * 1000, 1), "errors": 0}
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    Path(out / "load_test.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures))
    assert batch_runs >= 1
