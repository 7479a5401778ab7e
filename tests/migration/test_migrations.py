"""Migrations go up, down to base and up again on an empty database."""

import psycopg

from churndb.store import migrate

TABLES = {
    "customer_snapshots", "churn_outcomes", "ingest_batches", "rejected_rows", "model_versions",
    "model_deployments", "scoring_runs", "score_history", "retention_targets", "segment_policy",
    "segment_policy_bands", "intervention_outcomes", "monitoring_metrics", "alerts", "job_runs",
}


def _tables(url):
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'churndb' AND c.relkind IN ('r', 'p')").fetchall()
    return {r[0] for r in rows}


def test_upgrade_downgrade_upgrade(empty_db_url):
    assert migrate.upgrade(empty_db_url) == migrate.head_revision()
    assert TABLES <= _tables(empty_db_url)
    assert migrate.downgrade(empty_db_url, "base") is None
    assert _tables(empty_db_url) == set()
    assert migrate.upgrade(empty_db_url) == migrate.head_revision()
    assert TABLES <= _tables(empty_db_url)


def test_upgrade_is_idempotent_and_seeds_the_default_policy_once(empty_db_url):
    migrate.upgrade(empty_db_url)
    migrate.upgrade(empty_db_url)
    with psycopg.connect(empty_db_url) as conn:
        bands = conn.execute(
            "SELECT risk_category, min_score, max_score, intervention_cost::float8, targeted "
            "FROM churndb.segment_policy_bands ORDER BY min_score DESC").fetchall()
        policy = conn.execute("SELECT count(*), min(success_rate)::float8, min(value_horizon_months) "
                              "FROM churndb.segment_policy").fetchone()
    assert bands == [("Critical", 75, 100, 150.0, True), ("High", 50, 74, 75.0, True),
                     ("Medium", 25, 49, 25.0, True), ("Low", 0, 24, 0.0, False)]
    assert policy == (1, 0.4, 12)


def test_installed_views_match_the_current_definitions(empty_db_url):
    """Each view at head is exactly sql/views/<name>.sql (compared as PostgreSQL normalises them)."""
    from churndb.store.sqlfiles import view_definition, view_names

    migrate.upgrade(empty_db_url)
    names = view_names()
    assert names
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        installed = {r[0] for r in conn.execute(
            "SELECT viewname FROM pg_views WHERE schemaname = 'churndb'").fetchall()}
        assert installed == set(names)
        conn.execute("CREATE SCHEMA scratch_views")
        try:
            for name in names:  # in dependency order is not needed: the copies refer to churndb's views
                conn.execute(psycopg.sql.SQL("CREATE VIEW scratch_views.{} AS ").format(psycopg.sql.Identifier(name))
                             + psycopg.sql.SQL(view_definition(name)))
                a, b = conn.execute("SELECT pg_get_viewdef(%s::regclass), pg_get_viewdef(%s::regclass)",
                                    (f"churndb.{name}", f"scratch_views.{name}")).fetchone()
                assert a == b, f"view {name} differs from sql/views/{name}.sql: add a migration"
        finally:
            conn.execute("DROP SCHEMA scratch_views CASCADE")


HISTORY_ROW = ("INSERT INTO churndb.score_history (scored_at, run_id, customer_id, model_version, churn_probability, "
               "risk_score, risk_category, retention_action, estimated_intervention_cost, estimated_revenue_at_risk) "
               "SELECT started_at, run_id, %s, 1, 0.5, 50, 'High', 'call', 75, 10 FROM churndb.scoring_runs "
               "WHERE run_id = %s")


def test_history_written_before_run_partitions_survives_the_upgrade_and_the_way_back(empty_db_url):
    """0010 turns each month into a run-partitioned one: a month's existing rows are kept (in
    <month>_before), later runs attach beside them, and the downgrade puts every row back."""
    migrate.upgrade(empty_db_url, "0009")
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO churndb.model_versions (status, spec, feature_spec, training, metrics, "
                     "library_versions, artifact, artifact_sha256, artifact_signature) "
                     "VALUES ('candidate', '{}', '{}', '{}', '{}', '{}', '\\x00', 'x', 'y')")
        old = conn.execute("INSERT INTO churndb.scoring_runs (model_version, status, started_at, finished_at) "
                           "VALUES (1, 'succeeded', now(), now()) RETURNING run_id").fetchone()[0]
        conn.execute("SELECT churndb.ensure_score_history_partition(now())")
        for customer in (1, 2):
            conn.execute(HISTORY_ROW, (customer, old))
    migrate.upgrade(empty_db_url)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        assert conn.execute("SELECT tableoid::regclass::text, count(*) FROM churndb.score_history GROUP BY 1"
                            ).fetchall() == [(f"churndb.score_history_{_month(conn)}_before", 2)]
        new = conn.execute("INSERT INTO churndb.scoring_runs (model_version, started_at) VALUES (1, now()) "
                           "RETURNING run_id").fetchone()[0]
        conn.execute("SELECT churndb.create_run_history(%s)", (new,))
        conn.execute(HISTORY_ROW.replace("churndb.score_history ", f"churndb.score_history_r{new} "), (3, new))
        conn.execute("SELECT churndb.attach_run_history(%s)", (new,))
        assert conn.execute("SELECT run_id, count(*) FROM churndb.score_history GROUP BY 1 ORDER BY 1").fetchall() == [
            (old, 2), (new, 1)]
    migrate.downgrade(empty_db_url, "0009")
    with psycopg.connect(empty_db_url) as conn:
        assert conn.execute("SELECT run_id, count(*) FROM churndb.score_history GROUP BY 1 ORDER BY 1").fetchall() == [
            (old, 2), (new, 1)]
        assert conn.execute("SELECT count(*) FROM pg_class WHERE relname ~ '^score_history_r[0-9]+$'").fetchone() == (0,)


def _month(conn) -> str:
    return conn.execute("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM')").fetchone()[0]


def test_targets_written_before_source_partitions_survive_the_upgrade_and_the_way_back(empty_db_url):
    """0012 partitions retention_targets by source: each source's rows land in its own partition with the
    CRM's columns as they were, the CRM can still update them (and the update is logged), and the
    downgrade puts every row back in one table."""
    migrate.upgrade(empty_db_url, "0011")
    target = ("INSERT INTO churndb.retention_targets (customer_id, source, customer_key, churn_probability, risk_score, "
              "risk_category, retention_action, estimated_intervention_cost, estimated_revenue_at_risk, treatment_group, "
              "campaign_id, policy_version, model_version, run_id, scored_at, crm_status) "
              "VALUES (%s, %s, %s, 0.8, 80, 'Critical', 'call', 150, 1000, 'treatment', 'c', 1, 1, %s, now(), %s)")
    rows = [(1, "telecom", "1", 7, "contacted"), (2, "telecom", "2", 7, "new"), (-5, "telco_eu", "A-5", 9, "won back")]
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        for row in rows:
            conn.execute(target, row)
    migrate.upgrade(empty_db_url)
    read = "SELECT customer_id, source, customer_key, run_id, crm_status FROM churndb.retention_targets ORDER BY 1"
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        assert conn.execute(read).fetchall() == sorted(rows)
        assert conn.execute("SELECT c.relname, count(*) FROM churndb.retention_targets t JOIN pg_class c "
                            "ON c.oid = t.tableoid GROUP BY 1 ORDER BY 1").fetchall() == [
            ("retention_targets_r7", 2), ("retention_targets_r9", 1)]
        conn.execute("SET ROLE churn_crm")
        conn.execute("UPDATE churndb.retention_targets SET crm_notes = 'ok' WHERE customer_id = 2")
        conn.execute("RESET ROLE")
        assert conn.execute("SELECT source, customer_id FROM churndb.crm_target_changes").fetchall() == [("telecom", 2)]
    migrate.downgrade(empty_db_url, "0011")
    with psycopg.connect(empty_db_url) as conn:
        assert conn.execute(read).fetchall() == sorted(rows)
        assert conn.execute("SELECT relkind FROM pg_class WHERE oid = 'churndb.retention_targets'::regclass"
                            ).fetchone() == ("r",)
