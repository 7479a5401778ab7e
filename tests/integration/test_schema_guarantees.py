"""Guarantees the database itself enforces, whatever client writes to it."""

import psycopg
import pytest


INSERT_SCORE = ("INSERT INTO score_history (scored_at, run_id, customer_id, model_version, churn_probability, "
                "risk_score, risk_category, retention_action, estimated_intervention_cost, estimated_revenue_at_risk) "
                "VALUES (%s, %s, 1, %s, %s, %s, %s, 'act', 0, 0)")


def _model(conn, status="candidate"):
    return conn.execute(
        "INSERT INTO model_versions (status, spec, feature_spec, training, metrics, library_versions, artifact, "
        "artifact_sha256, artifact_signature) VALUES (%s, '{}', '{}', '{}', '{}', '{}', '\\x00', 'x', 'y') "
        "RETURNING model_version", (status,)).fetchone()[0]


def _run_with_scores(conn):
    version = _model(conn)
    run_id, started = conn.execute(
        "INSERT INTO scoring_runs (model_version) VALUES (%s) RETURNING run_id, started_at", (version,)).fetchone()
    conn.execute("SELECT ensure_score_history_partition(%s)", (started,))
    conn.execute("SELECT add_run_history_partition(%s)", (run_id,))  # the owner writes through the parent
    conn.execute(INSERT_SCORE, (started, run_id, version, 0.8, 80, "Critical"))
    return run_id, started, version


def test_score_history_is_append_only(conn):
    run_id, started, version = _run_with_scores(conn)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        conn.execute("UPDATE score_history SET risk_score = 1")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        conn.execute("DELETE FROM score_history")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        conn.execute("TRUNCATE score_history")
    assert conn.execute("SELECT risk_score FROM score_history").fetchall() == [(80,)]


def test_run_and_customer_are_unique_in_history(conn):
    run_id, started, version = _run_with_scores(conn)
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(INSERT_SCORE, (started, run_id, version, 0.1, 10, "Low"))


def test_history_rows_land_in_their_runs_partition_of_the_month(conn):
    run_id, started, _ = _run_with_scores(conn)
    partition, month = conn.execute(
        "SELECT h.tableoid::regclass::text, i.inhparent::regclass::text FROM score_history h "
        "JOIN pg_inherits i ON i.inhrelid = h.tableoid").fetchone()
    assert partition == f"score_history_r{run_id}"
    assert month == f"score_history_{started:%Y_%m}"


def test_at_most_one_champion(conn):
    _model(conn, "champion")
    with pytest.raises(psycopg.errors.UniqueViolation):
        _model(conn, "champion")


def test_snapshots_reject_values_the_loader_would_reject(conn):
    conn.execute("INSERT INTO ingest_batches (source_file, file_sha256, target_table, rows_in, rows_loaded, "
                 "rows_rejected) VALUES ('f', 'x', 't', 1, 1, 0)")
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("INSERT INTO customer_snapshots (customer_id, as_of_date, num_complaints_3m, "
                     "num_complaints_12m, batch_id) VALUES (1, '2026-01-01', 5, 2, 1)")


def test_a_monthly_history_partition_refuses_truncate_itself(conn):
    """Review item 12: the parent's TRUNCATE trigger does not fire for a partition truncated directly."""
    name = conn.execute("SELECT churndb.ensure_score_history_partition(now())").fetchone()[0]
    older = conn.execute("SELECT churndb.ensure_score_history_partition(now() - interval '3 months')").fetchone()[0]
    for partition in (name, older, "score_history_default"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute(f"TRUNCATE churndb.{partition}")


def test_a_runs_history_table_takes_only_that_runs_rows_until_it_is_published(conn):
    """Migration 0010: a run writes into its own table; the table refuses rows of another run or
    stamped with another time, and once attached (published) it refuses the scorer's rows."""
    version = _model(conn)
    run_id, started = conn.execute(
        "INSERT INTO scoring_runs (model_version) VALUES (%s) RETURNING run_id, started_at", (version,)).fetchone()
    conn.execute("SELECT ensure_score_history_partition(%s)", (started,))
    table = conn.execute("SELECT create_run_history(%s)", (run_id,)).fetchone()[0]
    insert = INSERT_SCORE.replace("INSERT INTO score_history", f"INSERT INTO {table}")
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(insert, (started, run_id + 1, version, 0.8, 80, "Critical"))
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(insert, (started.replace(microsecond=(started.microsecond + 1) % 10**6), run_id, version, 0.8,
                              80, "Critical"))
    conn.execute(insert, (started, run_id, version, 0.8, 80, "Critical"))
    assert conn.execute("SELECT count(*) FROM score_history WHERE run_id = %s", (run_id,)).fetchone() == (0,)
    conn.execute("SELECT attach_run_history(%s)", (run_id,))
    assert conn.execute("SELECT count(*) FROM score_history WHERE run_id = %s", (run_id,)).fetchone() == (1,)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        conn.execute(f"TRUNCATE {table}")
