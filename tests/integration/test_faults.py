"""kill -9 at several points, provoked timeouts, hostile policy text, secrets kept out of sight."""

import time

import pytest

from tests.conftest import TEST_SIGNING_KEY, run_score


def _one(conn, sql, *params):
    return conn.execute(sql, params).fetchone()[0]


def _kill_after(proc, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    finished = proc.poll() is not None
    if not finished:
        proc.kill()
    proc.communicate()
    return not finished


def _settle(conn):
    for _ in range(100):
        if _one(conn, "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'churndb%%' "
                      "AND pid <> pg_backend_pid()") == 0:
            return
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.parametrize("at", [0.5, 3.0, 6.0])
def test_kill_train_leaves_the_registry_whole(cli_process, trained_conn, cli, at):
    models = _one(trained_conn, "SELECT count(*) FROM model_versions")
    killed = _kill_after(cli_process("train"), at)
    _settle(trained_conn)
    if killed:
        assert _one(trained_conn, "SELECT count(*) FROM model_versions") == models
    assert _one(trained_conn, "SELECT count(*) FROM model_versions WHERE status = 'champion'") == 1
    res = cli("train", "--json")
    assert res.code == 0, res.err


@pytest.mark.slow
@pytest.mark.parametrize("at", [1.0, 8.0, 14.0])
def test_kill_retrain_leaves_one_champion_and_consistent_targets(cli_process, trained_conn, cli, at):
    run_score(cli)
    killed = _kill_after(cli_process("jobs", "run", "retrain"), at)
    _settle(trained_conn)
    assert _one(trained_conn, "SELECT count(*) FROM model_versions WHERE status = 'champion'") == 1
    # Targets all come from one published run, and that run succeeded.
    runs = trained_conn.execute("SELECT DISTINCT t.run_id, r.status FROM retention_targets t "
                                "JOIN scoring_runs r USING (run_id) WHERE t.is_current").fetchall()
    assert len(runs) == 1 and runs[0][1] == "succeeded"
    res = cli("jobs", "run", "retrain", "--json")
    assert res.code == 0, res.err
    assert res.json["status"] in ("promoted", "kept")
    statuses = [r[0] for r in trained_conn.execute("SELECT status FROM job_runs WHERE job = 'retrain' "
                                                   "ORDER BY started_at").fetchall()]
    assert statuses[-1] == "succeeded" and "running" not in statuses
    if killed and len(statuses) > 1:
        assert statuses[0] == "failed"  # the killed invocation, recorded by the next one


def test_statement_timeout_is_one_clear_line(cli, trained_db_url, trained_conn, monkeypatch):
    monkeypatch.setenv("CHURNDB_STATEMENT_TIMEOUT", "1ms")
    res = cli("score")
    assert res.code == 1 and len(res.err.strip().splitlines()) == 1
    assert "cancel" in res.err or "timeout" in res.err, res.err
    monkeypatch.delenv("CHURNDB_STATEMENT_TIMEOUT")
    assert _one(trained_conn, "SELECT count(*) FROM v_current_scores") == 0
    run_score(cli)


def test_policy_text_is_data_not_sql(cli, trained_conn):
    payload = "'); DROP TABLE churndb.score_history; --"
    trained_conn.execute("""
        WITH p AS (INSERT INTO segment_policy (effective_from, success_rate, value_horizon_months, control_share,
                   reason_playbooks) VALUES (now(), 0.4, 12, 0.1, jsonb_build_object('num_complaints_3m', %s::text,
                   'tenure_months', %s::text, 'nps_score', %s::text, 'num_complaints_12m', %s::text))
                   RETURNING policy_version)
        INSERT INTO segment_policy_bands SELECT p.policy_version, b.risk_category, b.min_score, b.max_score,
               %s, b.intervention_cost, b.targeted
        FROM p, segment_policy_bands b WHERE b.policy_version = 1""", (payload,) * 5)
    run_score(cli)
    assert _one(trained_conn, "SELECT count(*) FROM retention_targets WHERE retention_action = %s", payload) > 0
    assert _one(trained_conn, "SELECT count(*) FROM retention_targets WHERE suggested_offer = %s", payload) > 0
    assert _one(trained_conn, "SELECT to_regclass('churndb.score_history') IS NOT NULL")


def test_the_signing_key_is_never_stored_or_printed(cli, trained_conn):
    outputs = [cli("train", "--json"), cli("score", "--json"), cli("models", "show", "1", "--json"),
               cli("monitor", "--json"), cli("jobs", "run", "score", "--json")]
    for res in outputs:
        assert res.code == 0, res.err
        assert TEST_SIGNING_KEY not in res.out + res.err
    for table in ("model_versions", "model_deployments", "scoring_runs", "job_runs", "alerts", "monitoring_metrics",
                  "ingest_batches"):
        found = _one(trained_conn, f"SELECT count(*) FROM churndb.{table} t WHERE t::text LIKE %s",
                     f"%{TEST_SIGNING_KEY}%")
        assert found == 0, table
