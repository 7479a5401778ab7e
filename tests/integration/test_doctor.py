"""churndb doctor: ok on a healthy database, and the right failing line for each thing gone wrong."""

import pytest

from churndb.store import migrate
from tests.conftest import run_score


def _doctor(cli):
    res = cli("doctor", "--json")
    report = res.json
    return res, {c["check"]: c for c in report["checks"]}


@pytest.fixture
def healthy(cli, trained_conn):
    run_score(cli)
    return trained_conn


def test_a_healthy_database_is_all_ok(cli, healthy):
    res, checks = _doctor(cli)
    assert res.code == 0, res.err
    assert {"database", "schema", "signing key", "champion", "last run", "scores", "jobs", "disk"} <= set(checks)
    assert {c["status"] for c in checks.values()} == {"ok"}, checks
    assert "scores a probe customer" in checks["champion"]["message"]


def test_a_tampered_champion_artifact_fails_the_champion_check(cli, healthy):
    healthy.execute("UPDATE model_versions SET artifact = artifact || '\\x00'::bytea WHERE status = 'champion'")
    res, checks = _doctor(cli)
    assert res.code == 1 and len(res.err.strip().splitlines()) == 1
    assert checks["champion"]["status"] == "fail" and "refusing to load" in checks["champion"]["message"]


def test_no_champion_fails_the_champion_check(cli, healthy):
    healthy.execute("UPDATE model_versions SET status = 'retired' WHERE status = 'champion'")
    res, checks = _doctor(cli)
    assert res.code == 1 and checks["champion"]["status"] == "fail" and "no champion" in checks["champion"]["message"]


def test_a_failed_last_run_fails_the_run_check(cli, healthy):
    healthy.execute("INSERT INTO scoring_runs (model_version, policy_version, as_of_date, status, error, finished_at) "
                    "VALUES (1, 1, '2026-09-30', 'failed', 'the disk was full', now())")
    res, checks = _doctor(cli)
    assert res.code == 1 and checks["last run"]["status"] == "fail"
    assert "the disk was full" in checks["last run"]["message"]


def test_a_database_one_migration_behind_fails_the_schema_check(cli, healthy, trained_db_url):
    head = migrate.head_revision()
    migrate.downgrade(trained_db_url, "-1")
    res, checks = _doctor(cli)
    assert res.code == 1 and checks["schema"]["status"] == "fail"
    assert "behind" in checks["schema"]["message"] and head in checks["schema"]["message"]


def test_status_says_what_is_loaded_trained_and_published(cli, healthy):
    healthy.execute("INSERT INTO job_runs (job, status, error, finished_at) VALUES ('outcomes', 'failed', "
                    "'outcomes_2026-10-01.csv is empty', now())")
    res = cli("status", "--json")
    assert res.code == 0, res.err
    out = res.json
    run = healthy.execute("SELECT run_id, customers_scored, targets FROM scoring_runs WHERE status = 'succeeded'").fetchone()
    auc = healthy.execute("SELECT (metrics->>'auc')::float8 FROM model_versions WHERE status = 'champion'").fetchone()[0]
    assert out["champion"]["model_version"] == 1 and out["champion"]["holdout_auc"] == pytest.approx(auc)
    assert (out["last_published_run"]["run_id"], out["last_published_run"]["customers_scored"],
            out["last_published_run"]["targets"]) == run
    assert out["job_failures"][0]["job"] == "outcomes" and "empty" in out["job_failures"][0]["error"]
    text = cli("status").out
    assert "champion: model 1" in text and f"published: run {run[0]}" in text and "job failure: outcomes" in text
