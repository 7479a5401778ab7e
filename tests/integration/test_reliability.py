"""Faults and concurrency: lost connections, lock waits, concurrent runs and CRM writers."""

import random
import threading
import time

import psycopg
import pytest

from churndb.model.sample import write_sample
from tests.conftest import TRAINED_ROWS, run_score


def _one(conn, sql, *params):
    return conn.execute(sql, params).fetchone()[0]


def _wait_until(predicate, timeout=60, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def test_connection_cut_mid_run_fails_cleanly_and_the_next_run_succeeds(cli_process, trained_conn, cli):
    before = trained_conn.execute("SELECT count(*) FROM retention_targets").fetchone()[0]
    proc = cli_process("score", "--chunk-rows", "300")
    writing = _wait_until(lambda: _one(trained_conn, "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                                                     "'churndb-score-write' AND query ILIKE 'COPY%%'") > 0)
    assert writing, "the run never started writing"
    # Cut every connection of the run (what a server restart or a network cut does to it).
    trained_conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE application_name LIKE 'churndb-score%%'")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "connection" in err and "lost" in err or "terminat" in err
    killed_run = _one(trained_conn, "SELECT max(run_id) FROM scoring_runs")
    assert _one(trained_conn, "SELECT count(*) FROM score_history WHERE run_id = %s", killed_run) == 0
    assert _one(trained_conn, "SELECT count(*) FROM retention_targets") == before
    after = run_score(cli)
    assert killed_run in after["abandoned_runs_failed"] or \
        _one(trained_conn, "SELECT status FROM scoring_runs WHERE run_id = %s", killed_run) == "failed"
    assert _one(trained_conn, "SELECT status FROM scoring_runs WHERE run_id = %s", after["run_id"]) == "succeeded"


def test_a_lock_held_elsewhere_is_a_clear_error_not_a_hang(cli, trained_db_url, trained_conn, monkeypatch):
    monkeypatch.setenv("CHURNDB_LOCK_TIMEOUT", "1s")
    with psycopg.connect(trained_db_url) as blocker:
        blocker.execute("LOCK TABLE churndb.retention_targets IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        res = cli("score")
        waited = time.monotonic() - started
        blocker.rollback()
    assert res.code == 1 and "gave up waiting for a lock" in res.err, res.err
    assert waited < 60
    run = trained_conn.execute("SELECT status, error FROM scoring_runs ORDER BY run_id DESC LIMIT 1").fetchone()
    assert run[0] == "failed" and "lock" in run[1]
    assert _one(trained_conn, "SELECT count(*) FROM v_current_scores") == 0


def test_bad_timeout_setting_is_one_line(cli, trained_db_url, monkeypatch):
    monkeypatch.setenv("CHURNDB_STATEMENT_TIMEOUT", "5 minutes; DROP TABLE x")
    res = cli("status")
    assert res.code == 1 and "is not a duration" in res.err and len(res.err.strip().splitlines()) == 1


def test_two_scores_at_once_both_publish_consistently(cli_process, trained_conn):
    procs = [cli_process("score", "--json") for _ in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), results
    runs = trained_conn.execute("SELECT run_id, customers_scored FROM scoring_runs WHERE status = 'succeeded'").fetchall()
    assert len(runs) == 2 and all(n == TRAINED_ROWS for _, n in runs)
    for run_id, _ in runs:
        assert _one(trained_conn, "SELECT count(DISTINCT customer_id) FROM score_history WHERE run_id = %s",
                    run_id) == TRAINED_ROWS
    # The current targets are exactly those of the run that published last (one row per customer is the
    # table's key; what can go wrong is a mix of runs or a count that is not the last run's).
    last, targets = trained_conn.execute("SELECT run_id, targets FROM scoring_runs WHERE status = 'succeeded' "
                                         "ORDER BY finished_at DESC LIMIT 1").fetchone()
    assert trained_conn.execute("SELECT DISTINCT run_id FROM retention_targets WHERE is_current").fetchall() == [(last,)]
    assert _one(trained_conn, "SELECT count(*) FROM retention_targets WHERE is_current") == targets


def test_a_run_reads_one_snapshot_even_when_a_newer_one_commits_between_its_chunks(trained_db_url, cli, tmp_path):
    """Deterministic: the run's reader reads one chunk, a newer snapshot of every customer commits, the
    reader reads the next chunk — still the snapshot the run started on (REPEATABLE READ)."""
    import datetime as dt

    from churndb.scoring import pipeline
    from churndb.store import db

    reader = db.snapshot_reader(trained_db_url, "test-reader")
    try:
        with reader.transaction():
            first = pipeline.read_chunk(reader, dt.date(2026, 12, 31), pipeline.FIRST_KEY, 1000)
            path = tmp_path / "newer.csv"
            write_sample(TRAINED_ROWS, path, seed=31)
            res = cli("ingest", path, "--as-of", "2026-12-01")
            assert res.code == 0, res.err
            rest = pipeline.read_chunk(reader, dt.date(2026, 12, 31), int(first["customer_id"].iloc[-1]), 10**6)
    finally:
        reader.close()
    assert len(first) + len(rest) == TRAINED_ROWS
    assert set(first["as_of_date"]) == set(rest["as_of_date"]) == {"2026-09-30"}


def test_score_during_ingest_sees_one_snapshot(cli_process, trained_conn, tmp_path, cli):
    path = tmp_path / "next.csv"
    write_sample(TRAINED_ROWS, path, seed=23)  # same customer ids, a later date
    ingest = cli_process("ingest", path, "--as-of", "2026-12-31", env={"CHURNDB_MAX_FUTURE_DAYS": "400"})
    score = cli_process("score", "--json", "--chunk-rows", "500")
    for p in (ingest, score):
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    run_id = _one(trained_conn, "SELECT max(run_id) FROM scoring_runs WHERE status = 'succeeded'")
    dates = trained_conn.execute("SELECT DISTINCT snapshot_date FROM score_history WHERE run_id = %s",
                                 (run_id,)).fetchall()
    assert len(dates) == 1, f"one run mixed snapshots: {dates}"


def test_crm_updates_during_a_publish_are_never_lost(trained_db_url, trained_conn, cli):
    run_score(cli)
    ids = [r[0] for r in trained_conn.execute("SELECT customer_id FROM retention_targets").fetchall()]
    committed: dict[int, str] = {}
    errors: list[str] = []
    stop = threading.Event()

    def crm_worker():
        rng = random.Random(5)
        with psycopg.connect(trained_db_url, options="-c search_path=churndb") as crm:
            n = 0
            while not stop.is_set():
                batch = rng.sample(ids, min(200, len(ids)))  # random order: the nastiest for deadlocks
                status = f"called-{n}"
                try:
                    with crm.transaction():
                        for cid in batch:
                            crm.execute("UPDATE retention_targets SET crm_status = %s, crm_updated_at = now() "
                                        "WHERE customer_id = %s", (status, cid))
                    committed.update({cid: status for cid in batch})
                except psycopg.Error as exc:
                    errors.append(str(exc))
                n += 1

    worker = threading.Thread(target=crm_worker)
    worker.start()
    try:
        for _ in range(2):
            run_score(cli)
    finally:
        stop.set()
        worker.join(timeout=60)
    assert not errors, errors[:3]
    assert len(committed) > 100
    final = dict(trained_conn.execute("SELECT customer_id, crm_status FROM retention_targets "
                                      "WHERE customer_id = ANY(%s)", (list(committed),)).fetchall())
    assert final == committed


def test_server_restart_mid_run_fails_cleanly_and_the_next_run_succeeds(cli_process, trained_db_url, cli,
                                                                         restart_server):
    if restart_server is None:
        pytest.skip("the tests use an external server (CHURNDB_TEST_DATABASE_URL); only the embedded one is "
                    "restarted by a test — the backend-termination test covers the client side there")
    proc = cli_process("score", "--chunk-rows", "300")
    with psycopg.connect(trained_db_url, autocommit=True) as watcher:
        assert _wait_until(lambda: _one(watcher, "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                                                 "'churndb-score-write' AND query ILIKE 'COPY%%'") > 0)
    restart_server()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and len(err.strip().splitlines()) == 1, err
    after = run_score(cli)
    with psycopg.connect(trained_db_url, autocommit=True, options="-c search_path=churndb") as conn:
        statuses = dict(conn.execute("SELECT run_id, status FROM scoring_runs").fetchall())
        assert statuses[after["run_id"]] == "succeeded"
        assert "running" not in statuses.values()
        interrupted = [r for r, s in statuses.items() if r != after["run_id"]]
        assert all(_one(conn, "SELECT count(*) FROM score_history WHERE run_id = %s", r) == 0 for r in interrupted)
