"""Score-history growth: partitions ahead, archive past the retention, audit view unaffected."""

import datetime as dt

import psycopg
import pytest

from churndb.base.config import Settings
from churndb.base.errors import ChurnDBError
from churndb.ops.history import maintain

TODAY = dt.date(2026, 11, 29)
MONTHS = [dt.date(2025, 6, 15), dt.date(2025, 12, 15), dt.date(2026, 6, 15), dt.date(2026, 10, 15)]


def _history_in(conn, month: dt.date, customers: int = 3) -> int:
    at = dt.datetime.combine(month, dt.time(2), dt.timezone.utc)
    run_id = conn.execute("INSERT INTO scoring_runs (model_version, status, started_at, finished_at) "
                          "VALUES (1, 'succeeded', %s, %s) RETURNING run_id", (at, at)).fetchone()[0]
    conn.execute("SELECT ensure_score_history_partition(%s)", (at,))
    conn.execute("SELECT add_run_history_partition(%s)", (run_id,))
    for c in range(customers):
        conn.execute("INSERT INTO score_history (scored_at, run_id, customer_id, model_version, churn_probability, "
                     "risk_score, risk_category, retention_action, estimated_intervention_cost, "
                     "estimated_revenue_at_risk) VALUES (%s, %s, %s, 1, 0.5, 50, 'High', 'call', 75, 10)",
                     (at, run_id, 100 + c))
    return run_id


def _settings(url, **history):
    return Settings(database_url=url, home=".", sections={"history": history})


def test_partitions_ahead_and_retention_archive_only_old_months(trained_db_url, trained_conn):
    runs = {m: _history_in(trained_conn, m) for m in MONTHS}
    result = maintain(trained_db_url, _settings(trained_db_url, months_ahead=2, retain_months=6), today=TODAY)

    # Retention 6 months on 2026-11-29: partitions ending on or before 2026-05-01 go.
    assert result["archived"] == ["score_history_2025_06", "score_history_2025_12"]
    assert {"score_history_2026_11", "score_history_2026_12", "score_history_2027_01"} <= set(result["partitions"])
    assert "score_history_2027_02" not in result["partitions"]
    kept = {m: r for m, r in runs.items() if m >= dt.date(2026, 5, 1)}
    audit = trained_conn.execute("SELECT run_id, count(*) FROM v_score_audit GROUP BY 1 ORDER BY 1").fetchall()
    assert audit == [(r, 3) for r in sorted(kept.values())]
    archived = trained_conn.execute("SELECT partition_name, row_count, archived_to FROM history_archive "
                                    "ORDER BY range_from").fetchall()
    assert archived == [("score_history_2025_06", 3, "churndb_archive.score_history_2025_06"),
                        ("score_history_2025_12", 3, "churndb_archive.score_history_2025_12")]
    assert trained_conn.execute("SELECT count(*), min(run_id) FROM churndb_archive.score_history_2025_06"
                                ).fetchone() == (3, runs[MONTHS[0]])
    # the month's run tables went with it: nothing of an archived month is left beside live history
    assert trained_conn.execute("SELECT to_regclass(%s)::text, to_regclass(%s)", (
        f"churndb_archive.score_history_r{runs[MONTHS[0]]}", f"churndb.score_history_r{runs[MONTHS[0]]}")
    ).fetchone() == (f"churndb_archive.score_history_r{runs[MONTHS[0]]}", None)
    for table in ("score_history", "churndb_archive.score_history_2025_06"):  # both stay append-only
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            trained_conn.execute(f"DELETE FROM {table}")

    again = maintain(trained_db_url, _settings(trained_db_url, months_ahead=2, retain_months=6), today=TODAY)
    assert again["archived"] == [] and again["created"] == [] and again["partitions"] == result["partitions"]


def test_a_partition_in_use_is_left_for_the_next_run(trained_db_url, trained_conn):
    _history_in(trained_conn, MONTHS[0])
    # The months ahead exist (creating one waits for every reader of score_history, as it always has).
    maintain(trained_db_url, _settings(trained_db_url), today=TODAY)
    with psycopg.connect(trained_db_url) as reader:  # an auditor's open transaction reading the old month
        reader.execute("SELECT count(*) FROM churndb.score_history_2025_06").fetchone()
        result = maintain(trained_db_url, _settings(trained_db_url, retain_months=6, lock_wait="300ms"), today=TODAY)
        assert result["archived"] == [] and result["busy"] == ["score_history_2025_06"]
    result = maintain(trained_db_url, _settings(trained_db_url, retain_months=6), today=TODAY)
    assert result["archived"] == ["score_history_2025_06"]


def test_without_retention_nothing_is_archived(trained_db_url, trained_conn):
    _history_in(trained_conn, MONTHS[0])
    result = maintain(trained_db_url, _settings(trained_db_url), today=TODAY)
    assert result["archived"] == [] and "score_history_2025_06" in result["partitions"]
    with pytest.raises(ChurnDBError, match="retain_months"):
        maintain(trained_db_url, _settings(trained_db_url, retain_months=0), today=TODAY)


def test_history_job_runs_from_the_cli(cli, trained_db_url):
    res = cli("jobs", "run", "history", "--json")
    assert res.code == 0, res.err
    assert res.json["status"] == "succeeded"
