"""Each role can do its job and nothing else (logged in as a member of the role)."""

import uuid

import psycopg
import pytest
from psycopg import sql


@pytest.fixture
def as_role(trained_db_url, trained_conn, cli):
    assert cli("score").code == 0
    created = []

    def connect(role: str) -> psycopg.Connection:
        user = f"t_{role}_{uuid.uuid4().hex[:8]}"
        trained_conn.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE {}").format(sql.Identifier(user),
                                                                                sql.Identifier(role)))
        created.append(user)
        return psycopg.connect(trained_db_url, user=user, autocommit=True, options="-c search_path=churndb")

    yield connect
    for user in created:
        trained_conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(user)))
        trained_conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(user)))


def allowed(conn, statement, *params):
    conn.execute(statement, params)


def refused(conn, statement, *params):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement, params)


def test_crm_reads_targets_and_updates_only_its_columns(as_role):
    with as_role("churn_crm") as c:
        allowed(c, "SELECT * FROM retention_targets LIMIT 5")
        allowed(c, "SELECT * FROM v_crm_priority_targets LIMIT 5")
        allowed(c, "UPDATE retention_targets SET crm_status = 'contacted', crm_notes = 'ok', crm_updated_at = now() "
                   "WHERE customer_id IN (SELECT customer_id FROM retention_targets LIMIT 3)")
        refused(c, "UPDATE retention_targets SET risk_score = 0")
        refused(c, "UPDATE retention_targets SET treatment_group = 'treatment'")
        refused(c, "DELETE FROM retention_targets")
        refused(c, "INSERT INTO retention_targets (customer_id) VALUES (1)")
        refused(c, "SELECT * FROM score_history LIMIT 1")
        refused(c, "SELECT * FROM customer_snapshots LIMIT 1")
        refused(c, "SELECT * FROM model_versions LIMIT 1")
        refused(c, "SELECT * FROM v_risk_segments")


def test_bi_reads_views_only(as_role):
    with as_role("churn_bi") as c:
        for view in ("v_current_scores", "v_risk_segments", "v_roi_projection", "v_roi_realized",
                     "v_model_performance", "v_score_drift", "v_published_runs"):
            allowed(c, f"SELECT * FROM {view} LIMIT 1")
        refused(c, "SELECT * FROM score_history LIMIT 1")
        refused(c, "SELECT * FROM retention_targets LIMIT 1")
        refused(c, "SELECT * FROM customer_snapshots LIMIT 1")
        refused(c, "SELECT * FROM v_score_audit LIMIT 1")
        refused(c, "UPDATE segment_policy SET success_rate = 0.9")


def test_scorer_writes_scores_but_cannot_rewrite_history_or_crm_columns(as_role):
    with as_role("churn_scorer") as c:
        allowed(c, "SELECT count(*) FROM customer_snapshots")
        allowed(c, "INSERT INTO job_runs (job, status) VALUES ('test', 'succeeded')")
        allowed(c, "UPDATE retention_targets SET is_current = is_current WHERE false")
        refused(c, "UPDATE retention_targets SET crm_status = 'x'")
        refused(c, "DELETE FROM score_history")  # no privilege, and the trigger would refuse it anyway
        refused(c, "DROP TABLE score_history")
        refused(c, "UPDATE segment_policy SET success_rate = 0.9")


def test_auditor_reads_history_and_metadata_but_not_artifacts(as_role):
    with as_role("churn_auditor") as c:
        allowed(c, "SELECT * FROM score_history LIMIT 1")
        allowed(c, "SELECT * FROM v_score_audit WHERE customer_id = 100001")
        allowed(c, "SELECT model_version, status, metrics, artifact_sha256 FROM model_versions")
        allowed(c, "SELECT * FROM model_deployments")
        refused(c, "SELECT artifact FROM model_versions")
        refused(c, "SELECT * FROM retention_targets LIMIT 1")
        refused(c, "UPDATE scoring_runs SET status = 'failed'")
        refused(c, "INSERT INTO alerts (rule, severity, message) VALUES ('x', 'info', 'y')")


def test_the_jobs_run_as_a_scorer_member(as_role, trained_db_url, trained_conn, cli, monkeypatch):
    """churn_scorer is enough to train, score and monitor (least privilege that still works)."""
    user_conn = as_role("churn_scorer")
    user = user_conn.info.user
    user_conn.close()
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(trained_db_url)
    monkeypatch.setenv("CHURNDB_DATABASE_URL", urlunsplit(parts._replace(netloc=f"{user}@{parts.hostname or ''}"
                                                                          + (f":{parts.port}" if parts.port else ""))))
    for args in (("score",), ("monitor",)):
        res = cli(*args, "--json")
        assert res.code == 0, (args, res.err)
    assert trained_conn.execute("SELECT count(*) FROM scoring_runs WHERE status = 'succeeded'").fetchone()[0] == 2


def _scorer_url(as_role, db_url):
    user_conn = as_role("churn_scorer")
    user = user_conn.info.user
    user_conn.close()
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(db_url)
    return urlunsplit(parts._replace(netloc=f"{user}@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")))


def test_a_scorer_member_can_train_promote_roll_back_and_score(as_role, trained_db_url, trained_conn, cli,
                                                             monkeypatch):
    """The record guards (migration 0004) leave the legitimate flow of a least-privilege deployment intact."""
    monkeypatch.setenv("CHURNDB_DATABASE_URL", _scorer_url(as_role, trained_db_url))
    res = cli("train", "--json")
    assert res.code == 0, res.err
    version = res.json["model_version"]
    for args in (("models", "promote", str(version)), ("score",), ("models", "rollback"), ("score",)):
        res = cli(*args, "--json")
        assert res.code == 0, (args, res.err)
    assert trained_conn.execute("SELECT status FROM model_versions WHERE model_version = %s",
                                (version,)).fetchone()[0] == "retired"


def test_the_scorer_cannot_rewrite_the_record(as_role, trained_conn):
    """Review item 5: crown a rejected model, swap an artifact, resurrect a failed run, add rows to a
    published run.  Each is refused by the database for churn_scorer."""
    trained_conn.execute("INSERT INTO model_versions (model_version, status, spec, feature_spec, training, metrics, "
                         "library_versions, artifact, artifact_sha256, artifact_signature) OVERRIDING SYSTEM VALUE "
                         "SELECT 99, 'rejected', spec, feature_spec, training, metrics, library_versions, artifact, "
                         "artifact_sha256, artifact_signature FROM model_versions WHERE model_version = 1")
    run_id, started_at = trained_conn.execute(
        "SELECT run_id, started_at FROM scoring_runs WHERE status = 'succeeded' ORDER BY run_id DESC LIMIT 1").fetchone()
    failed = trained_conn.execute("INSERT INTO scoring_runs (model_version, policy_version, as_of_date, status) "
                                  "SELECT 1, policy_version, as_of_date, 'failed' FROM scoring_runs "
                                  "WHERE run_id = %s RETURNING run_id", (run_id,)).fetchone()[0]
    with as_role("churn_scorer") as c:
        refused(c, "UPDATE model_versions SET status = 'champion', promoted_at = now() WHERE model_version = 99")
        refused(c, "UPDATE model_versions SET artifact = artifact || '\\x00'::bytea WHERE model_version = 1")
        refused(c, "UPDATE model_versions SET artifact_signature = 'forged' WHERE model_version = 1")
        refused(c, "UPDATE scoring_runs SET status = 'succeeded' WHERE run_id = %s", failed)
        refused(c, "INSERT INTO scoring_runs (model_version, status) VALUES (1, 'succeeded')")
        # a published run gains no row: not through score_history, not into its own table
        refused(c, "INSERT INTO score_history (scored_at, run_id, customer_id, model_version, churn_probability, "
                   "risk_score, risk_category, retention_action, estimated_intervention_cost, "
                   "estimated_revenue_at_risk) SELECT %s, run_id, -customer_id, "
                   "model_version, 0.99, 99, 'Critical', 'x', 0, 0 FROM score_history WHERE run_id = %s LIMIT 1",
                started_at, run_id)
        refused(c, f"INSERT INTO score_history_r{run_id} (scored_at, run_id, customer_id, model_version, "
                   "churn_probability, risk_score, risk_category, retention_action, estimated_intervention_cost, "
                   "estimated_revenue_at_risk) SELECT %s, run_id, -customer_id, "
                   "model_version, 0.99, 99, 'Critical', 'x', 0, 0 FROM score_history WHERE run_id = %s LIMIT 1",
                started_at, run_id)
        # nor can it open a history table for a run that is not running, or attach one
        refused(c, "SELECT create_run_history(%s)", run_id)
        refused(c, "SELECT attach_run_history(%s)", run_id)
    # Nothing changed: one row per customer in the current scores, the champion still model 1.
    assert trained_conn.execute("SELECT count(*) = count(DISTINCT customer_id) FROM v_current_scores").fetchone()[0]
    assert trained_conn.execute("SELECT model_version FROM model_versions WHERE status = 'champion'").fetchone()[0] == 1


def test_bi_does_not_read_the_crm_free_text(as_role):
    """Review item 6: v_crm_priority_targets carries crm_owner and crm_notes; BI reads the views without it."""
    with as_role("churn_bi") as c:
        refused(c, "SELECT crm_notes FROM v_crm_priority_targets LIMIT 1")
    with as_role("churn_crm") as c:
        allowed(c, "SELECT crm_notes FROM v_crm_priority_targets LIMIT 1")
