"""A publish that does not grow with the run (issue 15, migration 0012).

A run builds its source's next ``retention_targets`` partition before it takes the CRM's table, then
the publish copies the CRM's updates the build could not see and swaps the partitions.  What the CRM
and the other runs rely on: the CRM is not blocked while targets are built and never loses an update
made meanwhile; another source's publish is not stuck behind a build; the table holds each source's
targets once, in the partition of the run that published them, with nothing left behind.
"""

from __future__ import annotations

import psycopg
import pytest

from churndb.scoring import publish
from tests.conftest import run_score


def _pause_after_build(monkeypatch, during):
    """Run ``during()`` after the run's targets are built, before its publish takes the lock."""
    build = publish._build_targets
    seen = []

    def build_then(writer, table, history, params):
        snapshot = build(writer, table, history, params)
        seen.append(during())
        return snapshot

    monkeypatch.setattr(publish, "_build_targets", build_then)
    return seen


def _crm(url: str) -> psycopg.Connection:
    conn = psycopg.connect(url, autocommit=True, options="-c search_path=churndb,public -c lock_timeout=3s")
    conn.execute("SET ROLE churn_crm")
    return conn


def test_a_crm_update_made_while_targets_are_built_is_neither_blocked_nor_lost(cli, trained_conn, trained_db_url,
                                                                                 monkeypatch):
    first = run_score(cli)
    customer = trained_conn.execute("SELECT customer_id FROM retention_targets WHERE is_current "
                                    "AND treatment_group = 'treatment' ORDER BY risk_score DESC LIMIT 1").fetchone()[0]

    def crm_calls():
        with _crm(trained_db_url) as crm:  # lock_timeout: a CRM kept waiting fails here
            return crm.execute("UPDATE retention_targets SET crm_status = 'contacted', crm_notes = 'called mid-run', "
                               "crm_updated_at = now() WHERE customer_id = %s", (customer,)).rowcount

    seen = _pause_after_build(monkeypatch, crm_calls)
    second = run_score(cli)
    assert seen == [1]
    row = trained_conn.execute("SELECT run_id, crm_status, crm_notes FROM retention_targets WHERE customer_id = %s",
                               (customer,)).fetchone()
    assert row == (second["run_id"], "contacted", "called mid-run")
    assert second["run_id"] != first["run_id"]


def test_another_sources_swap_is_not_stuck_behind_a_build(cli, trained_conn, trained_db_url, monkeypatch):
    """A swap locks the parent exclusively (and its own source's partition, not this one's); a build
    that read the parent would hold it until its run commits, and two publishing runs would wait on
    each other."""
    run_score(cli)

    def another_swap():
        with psycopg.connect(trained_db_url, autocommit=True, options="-c lock_timeout=3s") as other:
            with other.transaction():
                other.execute("LOCK TABLE ONLY churndb.retention_targets IN ACCESS EXCLUSIVE MODE")
            return "locked"

    seen = _pause_after_build(monkeypatch, another_swap)
    run_score(cli)
    assert seen == ["locked"]


def test_each_source_has_one_partition_the_published_runs_and_nothing_is_left_behind(cli, trained_conn,
                                                                                     trained_db_url):
    runs = [run_score(cli)["run_id"] for _ in range(2)]
    with _crm(trained_db_url) as crm:
        assert crm.execute("UPDATE retention_targets SET crm_status = 'contacted' WHERE customer_id IN "
                           "(SELECT customer_id FROM retention_targets LIMIT 3)").rowcount == 3
    assert trained_conn.execute("SELECT count(*) FROM crm_target_changes").fetchone()[0] == 3
    runs.append(run_score(cli)["run_id"])
    where = trained_conn.execute("SELECT DISTINCT c.relname, t.source FROM retention_targets t "
                                 "JOIN pg_class c ON c.oid = t.tableoid").fetchall()
    assert where == [(f"retention_targets_r{runs[-1]}", "telecom")]
    tables = {r[0] for r in trained_conn.execute(
        "SELECT relname FROM pg_class WHERE relname ~ '^retention_targets_r[0-9]+$'").fetchall()}
    assert tables == {f"retention_targets_r{runs[-1]}"}
    # The changes the CRM made before the newest build are no longer kept.
    assert trained_conn.execute("SELECT count(*) FROM crm_target_changes").fetchone()[0] == 0


@pytest.mark.parametrize("role", ["churn_scorer", "churn_crm", "churn_bi"])
def test_no_role_can_write_a_published_partition_directly(trained_conn, trained_db_url, cli, role):
    run = run_score(cli)["run_id"]
    with psycopg.connect(trained_db_url, autocommit=True) as conn:
        conn.execute(f"SET ROLE {role}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            # the scorer could INSERT into its run's table until the check; no role may once published
            conn.execute(f"INSERT INTO churndb.retention_targets_r{run} "
                         f"SELECT * FROM churndb.retention_targets_r{run} LIMIT 1")


def test_a_run_cannot_drop_or_forge_the_crms_rows_through_its_own_table(cli, trained_conn, trained_db_url):
    """The scorer fills its run's table; the owner's check before the swap refuses a table that lost a
    customer the CRM has, changed the CRM's columns, or gives a new customer CRM work -- and a table
    that was never checked, or a run of another source, is never swapped in."""
    run_score(cli)
    victim, other = [r[0] for r in trained_conn.execute(
        "SELECT customer_id FROM retention_targets ORDER BY customer_id LIMIT 2").fetchall()]
    trained_conn.execute("UPDATE retention_targets SET crm_notes = 'promised a call' WHERE customer_id = %s", (other,))

    def attempt(copy: str, tamper: str | None = None, check: bool = True) -> None:
        run = trained_conn.execute("INSERT INTO scoring_runs (model_version, started_at, source) "
                                   "VALUES (1, now(), 'telecom') RETURNING run_id").fetchone()[0]
        with psycopg.connect(trained_db_url, autocommit=True, options="-c search_path=churndb,public") as scorer:
            scorer.execute("SET ROLE churn_scorer")
            scorer.execute("SELECT churndb.create_run_targets(%s, 'telecom')", (run,))
            scorer.execute(f"INSERT INTO retention_targets_r{run} {copy}")
            if tamper:
                trained_conn.execute(tamper.format(table=f"retention_targets_r{run}"))
            snapshot = scorer.execute("SELECT pg_current_snapshot()::text").fetchone()[0]
            if check:
                scorer.execute("SELECT churndb.index_run_targets(%s, %s)", (run, snapshot))
            scorer.execute("SELECT churndb.swap_run_targets(%s, 'telecom', %s)", (run, snapshot))

    everyone = "SELECT * FROM retention_targets"
    with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="lose or change the CRM's columns of 1"):
        attempt(f"{everyone} WHERE customer_id <> {victim}")                            # a CRM row dropped
    with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="lose or change the CRM's columns of 1"):
        attempt(everyone, "UPDATE {table} SET crm_notes = NULL WHERE customer_id = %d" % other)  # blanked
    with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="carry CRM work they never had"):
        # a new customer that arrives with CRM work
        attempt(everyone, ("INSERT INTO {table} SELECT * FROM {table} WHERE customer_id = %d; "
                           "UPDATE {table} SET customer_id = -customer_id, crm_status = 'won back' "
                           "WHERE ctid = (SELECT max(ctid) FROM {table} WHERE customer_id = %d)") % (victim, victim))
    with pytest.raises(psycopg.errors.SerializationFailure, match="changed since the run checked"):
        attempt(everyone, check=False)                                                   # never checked
    assert trained_conn.execute("SELECT crm_notes FROM retention_targets WHERE customer_id = %s",
                                (other,)).fetchone() == ("promised a call",)
    assert trained_conn.execute("SELECT count(*) FROM retention_targets WHERE customer_id = %s",
                                (victim,)).fetchone() == (1,)
