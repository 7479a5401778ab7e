"""Scoring on a Dask cluster (a LocalCluster of worker processes on this machine)."""

import datetime as dt
import json
import os
import signal
import time

import psycopg
import pytest

from churndb.scoring import cluster as distributed, pipeline as scoring
from churndb.store import db
from churndb.base.config import load_settings
from churndb.base.errors import ChurnDBError
from churndb.store.segment_policy import policy_in_force
from tests.conftest import TRAINED_ROWS, run_score

HISTORY = ("SELECT customer_id, churn_probability, risk_score, risk_category, retention_action, "
           "estimated_intervention_cost, estimated_revenue_at_risk, snapshot_date, top_reasons, is_shadow, "
           "model_version, offer_arm FROM score_history WHERE run_id = %s ORDER BY customer_id")
TARGETS = ("SELECT customer_id, churn_probability, risk_score, risk_category, retention_action, suggested_offer, "
           "estimated_intervention_cost, estimated_revenue_at_risk, expected_net_value, top_reasons, "
           "treatment_group, is_current, offer_arm FROM retention_targets ORDER BY customer_id")


def _one(conn, sql, *params):
    return conn.execute(sql, params).fetchone()[0]


def _left_behind(conn) -> int:
    """A run's staging partitions and never-attached history tables: what an unpublished run must not leave."""
    return _one(conn, "SELECT (SELECT count(*) FROM pg_inherits WHERE inhparent = 'churndb.score_staging'::regclass) + "
                      "(SELECT count(*) FROM pg_class WHERE relnamespace = 'churndb'::regnamespace "
                      "AND relname ~ '^score_history_r[0-9]+$' AND NOT relispartition)")


def _published(conn, run_id):
    return conn.execute(HISTORY, (run_id,)).fetchall(), conn.execute(TARGETS).fetchall()


def test_dask_run_publishes_exactly_what_a_local_run_does(cli, trained_conn):
    # A policy that tests two offers in High: arms are drawn the same on the workers as locally.
    trained_conn.execute("""
        WITH p AS (INSERT INTO segment_policy (effective_from, success_rate, value_horizon_months, control_share)
                   VALUES (now(), 0.4, 12, 0.1) RETURNING policy_version),
             b AS (INSERT INTO segment_policy_bands SELECT p.policy_version, b.risk_category, b.min_score,
                          b.max_score, b.retention_action, b.intervention_cost, b.targeted
                   FROM p, segment_policy_bands b WHERE b.policy_version = 1 RETURNING policy_version)
        INSERT INTO segment_policy_arms SELECT DISTINCT policy_version, 'High', arm, offer, 0.5, cost
        FROM b, (VALUES ('A', 'Loyalty discount', 60), ('B', 'Data upgrade', NULL)) a (arm, offer, cost)""")
    local = run_score(cli)
    local_history, local_targets = _published(trained_conn, local["run_id"])
    dask = run_score(cli, "--executor", "dask", "--workers", "2", "--partitions", "5")
    dask_history, dask_targets = _published(trained_conn, dask["run_id"])

    assert dask["executor"] == "dask" and dask["partitions"] == 5
    assert len(dask_history) == TRAINED_ROWS
    assert dask_history == local_history          # same probabilities, categories, reasons, to the last bit
    assert dask_targets == local_targets          # same targets, offers, arms and control group
    assert {t[-1] for t in dask_targets} == {None, "A", "B"}
    for key in ("customers_scored", "targets", "control_group", "segments"):
        assert dask[key] == local[key], key
    summaries = trained_conn.execute(
        "SELECT (SELECT summary FROM scoring_runs WHERE run_id = %s), (SELECT summary FROM scoring_runs "
        "WHERE run_id = %s)", (local["run_id"], dask["run_id"])).fetchone()
    assert summaries[0] == summaries[1]           # drift histograms add up over partitions
    parts = trained_conn.execute("SELECT status, attempts, customers, after_customer_id, upto_customer_id "
                                 "FROM run_partitions WHERE run_id = %s ORDER BY partition_no",
                                 (dask["run_id"],)).fetchall()
    assert [p[0] for p in parts] == ["done"] * 5 and sum(p[2] for p in parts) == TRAINED_ROWS
    assert all(a[4] == b[3] for a, b in zip(parts, parts[1:]))  # slices tile the key space
    assert _left_behind(trained_conn) == 0
    assert trained_conn.execute("SELECT run_id FROM v_published_runs ORDER BY run_id DESC LIMIT 1"
                                ).fetchone()[0] == dask["run_id"]


def test_killed_worker_partition_is_retried_without_duplicates(cli, cli_process, trained_conn, trained_db_url):
    proc = cli_process("score", "--json", "--executor", "dask", "--workers", "2", "--partitions", "6")
    staging = None
    with psycopg.connect(trained_db_url, options="-c search_path=churndb") as blocker:
        try:
            deadline = time.monotonic() + 120
            # Hold the run's staging partition so every worker stops mid-slice, scored but not committed.
            while staging is None and time.monotonic() < deadline and proc.poll() is None:
                staging = _one(trained_conn, "SELECT to_regclass('churndb.score_staging_r1')::text")
                time.sleep(0.005)
            assert staging, f"the run never created its staging partition: {proc.communicate()}"
            blocker.execute(f"LOCK TABLE {staging} IN SHARE MODE")
            victim = None
            while victim is None and time.monotonic() < deadline and proc.poll() is None:
                victim = trained_conn.execute(
                    "SELECT application_name FROM pg_stat_activity WHERE application_name ~ "
                    "'^churndb-score-worker-[0-9]+$' AND wait_event_type = 'Lock' LIMIT 1").fetchone()
                time.sleep(0.02)
            assert victim, f"no worker reached the write: {proc.communicate()}"
            os.kill(int(victim[0].rsplit("-", 1)[1]), signal.SIGKILL)
            time.sleep(1.0)
        finally:
            blocker.rollback()
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    run_id = result["run_id"]
    assert _one(trained_conn, "SELECT status FROM scoring_runs WHERE run_id = %s", run_id) == "succeeded"
    assert _one(trained_conn, "SELECT count(*) FROM score_history WHERE run_id = %s", run_id) == TRAINED_ROWS
    assert _one(trained_conn, "SELECT count(DISTINCT customer_id) FROM score_history WHERE run_id = %s",
                run_id) == TRAINED_ROWS
    attempts = trained_conn.execute("SELECT partition_no, attempts FROM run_partitions WHERE run_id = %s "
                                    "AND attempts > 1", (run_id,)).fetchall()
    assert attempts, "no partition was tried twice: the worker was not killed mid-slice"
    progress = trained_conn.execute("SELECT status, executor, partitions_planned, partitions_done, partition_retries, "
                                    "customers_scored FROM v_run_progress WHERE run_id = %s", (run_id,)).fetchone()
    assert progress == ("succeeded", "dask", 6, 6, sum(a - 1 for _, a in attempts), TRAINED_ROWS)
    history, _ = _published(trained_conn, run_id)
    local = run_score(cli)
    assert _published(trained_conn, local["run_id"])[0] == history


def test_a_finished_partition_run_again_writes_nothing_twice(trained_db_url, trained_conn):
    """A worker that committed its slice and died before Dask heard back: the re-run returns the stored
    counts and writes no row."""
    control = db.connect(trained_db_url, autocommit=True)
    holder = db.connect(trained_db_url)
    holder.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    try:
        run_id, started_at = control.execute(
            "INSERT INTO scoring_runs (model_version, executor) VALUES (1, 'dask') RETURNING run_id, started_at"
        ).fetchone()
        control.execute("SELECT ensure_score_history_partition(%s)", (started_at,))
        control.execute("SELECT create_run_staging(%s)", (run_id,))
        control.execute("SELECT create_run_history(%s)", (run_id,))
        with holder.transaction():
            snapshot = holder.execute("SELECT pg_export_snapshot()").fetchone()[0]
            _, slices = distributed.plan(holder, dt.date(2026, 9, 30), 3, 10**6, 1)
            for no, (after, upto) in enumerate(slices):
                control.execute("INSERT INTO run_partitions (run_id, partition_no, after_customer_id, "
                                "upto_customer_id) VALUES (%s, %s, %s, %s)", (run_id, no, after, upto))
            run = scoring.RunSpec(run_id=run_id, started_at=started_at, model_version=1,
                                  policy=policy_in_force(control), as_of=dt.date(2026, 9, 30), campaign="c",
                                  shadow=False, reasons=True, chunk_rows=700, baseline={})
            task = distributed.PartitionTask(trained_db_url, run, 1, *slices[1], snapshot)
            first = distributed.score_partition(task)
            written = _one(trained_conn, f"SELECT count(*) FROM score_history_r{run_id}")
            staged = _one(trained_conn, "SELECT count(*) FROM score_staging WHERE run_id = %s", run_id)
            again = distributed.score_partition(task)
        assert load_settings().signing_key  # the worker verified the artifact with its own key
        assert again == first and first["customers"] == written > 0 and first["targeted"] == staged > 0
        assert _one(trained_conn, f"SELECT count(*) FROM score_history_r{run_id}") == written
        assert _one(trained_conn, "SELECT count(*) FROM score_staging WHERE run_id = %s", run_id) == staged
        assert trained_conn.execute("SELECT status, attempts FROM run_partitions WHERE run_id = %s AND "
                                    "partition_no = 1", (run_id,)).fetchone() == ("done", 1)
    finally:
        control.close()
        holder.close()


def test_a_publish_missing_staged_targets_publishes_nothing(trained_db_url, trained_conn):
    """Staging is unlogged: a server crash can empty it.  The publish counts the staged targets against
    the slices' own counts and refuses to publish fewer, leaving history and the CRM's table alone."""
    control = db.connect(trained_db_url, autocommit=True)
    holder = db.connect(trained_db_url)
    holder.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    try:
        run_id, started_at = control.execute(
            "INSERT INTO scoring_runs (model_version, executor) VALUES (1, 'dask') RETURNING run_id, started_at"
        ).fetchone()
        control.execute("SELECT ensure_score_history_partition(%s)", (started_at,))
        control.execute("SELECT create_run_staging(%s), create_run_history(%s)", (run_id, run_id))
        run = scoring.RunSpec(run_id=run_id, started_at=started_at, model_version=1,
                              policy=policy_in_force(control), as_of=dt.date(2026, 9, 30), campaign="c",
                              shadow=False, reasons=False, chunk_rows=700, baseline={})
        tally = scoring.Tally()
        with holder.transaction():
            snapshot = holder.execute("SELECT pg_export_snapshot()").fetchone()[0]
            total, slices = distributed.plan(holder, run.as_of, 2, 10**6, 1)
            for no, (after, upto) in enumerate(slices):
                control.execute("INSERT INTO run_partitions (run_id, partition_no, after_customer_id, "
                                "upto_customer_id) VALUES (%s, %s, %s, %s)", (run_id, no, after, upto))
                tally.add_json(distributed.score_partition(
                    distributed.PartitionTask(trained_db_url, run, no, after, upto, snapshot)))
        assert tally.targeted > 0
        trained_conn.execute("DELETE FROM score_staging WHERE run_id = %s AND customer_id = "
                             "(SELECT min(customer_id) FROM score_staging WHERE run_id = %s)", (run_id, run_id))
        with pytest.raises(ChurnDBError, match="targets staged"):
            distributed._publish(trained_db_url, run, tally, scoring.Stages(), expected=total)
        assert _one(trained_conn, "SELECT status FROM scoring_runs WHERE run_id = %s", run_id) == "running"
        assert _one(trained_conn, "SELECT count(*) FROM score_history WHERE run_id = %s", run_id) == 0
        assert _one(trained_conn, "SELECT count(*) FROM retention_targets") == 0
    finally:
        control.close()
        holder.close()


def test_unreachable_scheduler_fails_the_run_in_one_line(cli, trained_conn):
    res = cli("score", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9")
    assert res.code != 0
    assert res.err.strip().count("\n") == 0 and "Dask scheduler at tcp://127.0.0.1:9" in res.err
    assert trained_conn.execute("SELECT status FROM scoring_runs").fetchall() == [("failed",)]
    assert _left_behind(trained_conn) == 0
    assert _one(trained_conn, "SELECT count(*) FROM retention_targets") == 0


def test_scheduler_without_dask_executor_is_refused(cli, trained_conn):
    res = cli("score", "--scheduler", "tcp://127.0.0.1:8786")
    assert res.code != 0 and "--executor dask" in res.err
    assert _one(trained_conn, "SELECT count(*) FROM scoring_runs") == 0


def test_killed_coordinator_leaves_nothing_and_the_next_run_cleans_up(cli, cli_process, trained_conn):
    proc = cli_process("score", "--executor", "dask", "--workers", "2", "--partitions", "8")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if _one(trained_conn, "SELECT count(*) FROM run_partitions WHERE status = 'done'"):
            break  # some slices are committed in staging, the run is not published
        time.sleep(0.01)
    proc.kill()
    out, err = proc.communicate()
    assert _one(trained_conn, "SELECT count(*) FROM run_partitions WHERE status = 'done'"), (out, err)
    assert _one(trained_conn, "SELECT count(*) FROM score_history") == 0
    assert _one(trained_conn, "SELECT count(*) FROM retention_targets") == 0
    for _ in range(200):  # the orphaned workers notice their nanny's parent is gone and stop
        if not _one(trained_conn, "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE "
                                  "'churndb-score%%'"):
            break
        time.sleep(0.1)
    after = run_score(cli)
    assert after["abandoned_runs_failed"] == [1]
    assert _left_behind(trained_conn) == 0
    assert _one(trained_conn, "SELECT count(*) FROM score_history") == TRAINED_ROWS


def test_workers_verify_the_model_with_their_own_key(cli, trained_conn):
    """An existing cluster (given by --scheduler) whose workers hold another signing key refuses the model:
    the run fails in one line and publishes nothing."""
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                      env={"CHURNDB_SIGNING_KEY": "not-the-key-the-model-was-signed-with"}) as cluster:
        res = cli("score", "--executor", "dask", "--scheduler", cluster.scheduler_address, "--partitions", "2")
        attempts = _one(trained_conn, "SELECT sum(attempts) FROM run_partitions")
    assert res.code == 1
    assert res.err.strip().count("\n") == 0 and "signature" in res.err, res.err
    assert attempts >= 1  # the workers did try, and refused
    assert trained_conn.execute("SELECT status FROM scoring_runs").fetchall() == [("failed",)]
    assert _one(trained_conn, "SELECT count(*) FROM score_history") == 0
    assert _left_behind(trained_conn) == 0


def test_the_config_file_can_make_dask_the_executor(cli, trained_conn, tmp_path, monkeypatch):
    config = tmp_path / "churndb.toml"
    config.write_text('[score]\nexecutor = "dask"\nworkers = 2\npartitions = 3\n')
    monkeypatch.setenv("CHURNDB_CONFIG", str(config))
    out = run_score(cli, "--no-reasons")
    assert (out["executor"], out["partitions"], out["customers_scored"]) == ("dask", 3, TRAINED_ROWS)
    config.write_text('[score]\nexecutor = "dask"\nworkers = "two"\n')
    res = cli("score")
    assert res.code == 1 and "workers" in res.err and res.err.strip().count("\n") == 0


# ---- review item 9: no secret in a task; a remote scheduler only over TLS --------------------------------
def test_tasks_carry_no_password_and_workers_use_their_own(trained_db_url, monkeypatch):
    import pickle

    secret = "Wk9-not-in-any-task"
    with_password = db.without_password(trained_db_url) + f" password={secret}"
    run = scoring.RunSpec(run_id=1, started_at=dt.datetime.now(dt.timezone.utc), model_version=1, policy=None,
                          as_of=dt.date(2026, 9, 30), campaign="c", shadow=False, reasons=False, chunk_rows=10,
                          baseline={})
    tasks = distributed.partition_tasks(with_password, run, [(0, 10), (10, 20)], "snapshot-id")
    assert all(secret.encode() not in pickle.dumps(t) for t in tasks)
    monkeypatch.setenv("CHURNDB_DATABASE_URL", with_password)  # the worker's own environment
    assert secret in distributed.worker_url(tasks[0].target)
    monkeypatch.setenv("CHURNDB_DATABASE_URL", "postgresql://someone@elsewhere.invalid/other")
    assert secret not in distributed.worker_url(tasks[0].target)


def test_a_remote_scheduler_over_plain_tcp_is_refused_before_connecting(cli, trained_conn):
    res = cli("score", "--executor", "dask", "--scheduler", "tcp://scheduler.invalid:8786")
    assert res.code == 1 and res.err.strip().count("\n") == 0, res.err
    assert "TLS" in res.err and "allow_insecure_scheduler" in res.err
    assert trained_conn.execute("SELECT status FROM scoring_runs").fetchall() == [("failed",)]


def test_a_tls_scheduler_is_used_with_the_configured_certificates(cli, trained_conn, tmp_path, monkeypatch):
    import shutil
    import subprocess

    import pytest
    from dask.distributed import LocalCluster
    from distributed.security import Security

    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-subj", "/CN=localhost", "-days", "1"], check=True, capture_output=True)
    security = Security(tls_ca_file=str(cert), tls_scheduler_cert=str(cert), tls_scheduler_key=str(key),
                        tls_worker_cert=str(cert), tls_worker_key=str(key), tls_client_cert=str(cert),
                        tls_client_key=str(key), require_encryption=True)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None, protocol="tls",
                      host="127.0.0.1", security=security) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tls://")
        res = cli("score", "--executor", "dask", "--scheduler", address, "--partitions", "2")
        assert res.code == 1 and "tls_ca_file" in res.err, res.err
        config = tmp_path / "tls.toml"
        config.write_text(f'[score]\ntls_ca_file = "{cert}"\ntls_client_cert = "{cert}"\ntls_client_key = "{key}"\n')
        monkeypatch.setenv("CHURNDB_CONFIG", str(config))
        out = run_score(cli, "--executor", "dask", "--scheduler", address, "--partitions", "2", "--no-reasons")
    assert out["customers_scored"] == TRAINED_ROWS
