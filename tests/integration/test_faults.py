"""kill -9 at several points, provoked timeouts, hostile policy text, secrets kept out of sight."""

import time

import pytest

from churndb.store import registry

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
    # Either the killed train left no trace, or -- when the kill landed while the process was exiting,
    # after its commit -- the version it added is whole: its signature verifies and it unpickles.
    added = [v for (v,) in trained_conn.execute("SELECT model_version FROM model_versions "
                                                "ORDER BY model_version OFFSET %s", (models,))]
    assert len(added) <= 1
    if killed and added:
        assert registry.load(trained_conn, TEST_SIGNING_KEY.encode(), added[0])[0] == added[0]
    assert _one(trained_conn, "SELECT count(*) FROM model_versions WHERE status = 'champion'") == 1
    res = cli("train", "--json")
    assert res.code == 0, res.err


@pytest.mark.slow
@pytest.mark.parametrize("at", [1.0, 8.0, 14.0])
def test_kill_retrain_leaves_one_champion_and_consistent_targets(cli_process, trained_conn, cli, at):
    run_score(cli)
    proc = cli_process("jobs", "run", "retrain")
    deadline = time.monotonic() + 60  # kill while the job is recorded running, `at`/4 seconds into it
    while proc.poll() is None and time.monotonic() < deadline and _one(
            trained_conn, "SELECT count(*) FROM job_runs WHERE job = 'retrain' AND status = 'running'") == 0:
        time.sleep(0.01)
    killed = _kill_after(proc, at / 4)
    killed_at = _one(trained_conn, "SELECT clock_timestamp()")
    _settle(trained_conn)
    assert _one(trained_conn, "SELECT count(*) FROM model_versions WHERE status = 'champion'") == 1
    # Targets all come from one published run, and that run succeeded.
    runs = trained_conn.execute("SELECT DISTINCT t.run_id, r.status FROM retention_targets t "
                                "JOIN scoring_runs r USING (run_id) WHERE t.is_current").fetchall()
    assert len(runs) == 1 and runs[0][1] == "succeeded"
    res = cli("jobs", "run", "retrain", "--json")
    assert res.code == 0, res.err
    assert res.json["status"] in ("promoted", "kept")
    rows = trained_conn.execute("SELECT status, finished_at FROM job_runs WHERE job = 'retrain' "
                                "ORDER BY started_at").fetchall()
    statuses = [r[0] for r in rows]
    assert statuses[-1] == "succeeded" and "running" not in statuses
    if killed and len(statuses) > 1:
        # The killed invocation is recorded failed by the next one -- unless the kill landed while the
        # process was exiting, after the job had already committed its success.
        assert statuses[0] == "failed" or rows[0][1] <= killed_at, rows


def test_statement_timeout_is_one_clear_line(cli, trained_db_url, trained_conn, monkeypatch):
    monkeypatch.setenv("CHURNDB_STATEMENT_TIMEOUT", "1ms")
    res = cli("score")
    assert res.code == 1 and len(res.err.strip().splitlines()) == 1
    assert "cancel" in res.err and "CHURNDB_STATEMENT_TIMEOUT" in res.err, res.err  # says what to change
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


@pytest.fixture
def full_disk_for_snapshots(db_url, conn, restart_server):
    """customer_snapshots moved to a 1 MB tmpfs tablespace (embedded server, root only)."""
    import os
    import shutil
    import subprocess

    from tests.conftest import _SERVER

    server = _SERVER.get("server")
    if restart_server is None or server is None or os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs the embedded test server and root to mount a 1 MB tmpfs")
    import tempfile
    from pathlib import Path

    from psycopg import sql

    mountpoint = Path(tempfile.mkdtemp(prefix="churndb-tiny-"))  # /tmp: reachable by the server's OS user
    mountpoint.chmod(0o755)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mountpoint)]).returncode != 0:
        pytest.skip("this machine does not allow mounting a tmpfs")
    try:
        if server.system_user:
            shutil.chown(mountpoint, user=server.system_user)
        conn.execute(sql.SQL("CREATE TABLESPACE churndb_tiny LOCATION {}").format(sql.Literal(str(mountpoint))))
        conn.execute("ALTER TABLE churndb.customer_snapshots SET TABLESPACE churndb_tiny")
        yield
        conn.execute("ALTER TABLE churndb.customer_snapshots SET TABLESPACE pg_default")
        conn.execute("DROP TABLESPACE churndb_tiny")
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)])
        mountpoint.rmdir()


def test_disk_full_is_one_line_and_loads_nothing(cli, conn, sample_csv, full_disk_for_snapshots):
    res = cli("ingest", sample_csv, "--as-of", "2026-01-31")
    assert res.code == 1 and len(res.err.strip().splitlines()) == 1, res.err
    assert "ran out of resources" in res.err and "space" in res.err
    assert _one(conn, "SELECT count(*) FROM ingest_batches") == 0
    assert _one(conn, "SELECT count(*) FROM customer_snapshots") == 0


def test_wrong_password_is_one_line_without_the_password(cli, conn, monkeypatch, restart_server):
    """The embedded test server trusts local users; one role is switched to password authentication."""
    from pathlib import Path

    from tests.conftest import _SERVER

    server = _SERVER.get("server")
    if restart_server is None or server is None:
        pytest.skip("needs the embedded test server (its pg_hba.conf is edited for one role)")
    hba = Path(server.pgdata) / "pg_hba.conf"
    original = hba.read_text()
    conn.execute("DROP ROLE IF EXISTS churndb_pw_test")
    conn.execute("CREATE ROLE churndb_pw_test LOGIN PASSWORD 'right-password'")
    try:
        hba.write_text("local all churndb_pw_test scram-sha-256\n" + original)
        conn.execute("SELECT pg_reload_conf()")
        socket_dir = server.get_postmaster_info().socket_dir
        dbname = conn.info.dbname
        monkeypatch.setenv("CHURNDB_DATABASE_URL",
                           f"postgresql://churndb_pw_test:wrong-Pa55word@/{dbname}?host={socket_dir}")
        res = cli("status", "--json")
        assert res.code == 1 and len(res.err.strip().splitlines()) == 1, res.err
        assert "password authentication failed" in res.err
        assert "wrong-Pa55word" not in res.err + res.out
    finally:
        hba.write_text(original)
        conn.execute("SELECT pg_reload_conf()")
        conn.execute("DROP ROLE churndb_pw_test")
