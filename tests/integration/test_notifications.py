"""Notifications on publish: one pg_notify per published run, an outbox of customers newly above the
threshold, drained once (issue 17)."""

import datetime as dt
import json
import threading

import psycopg

from churndb.model.sample import write_sample
from churndb.ops.outbox import drain
from tests.conftest import TRAINED_ROWS, run_score


def _listen(url):
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("LISTEN churndb_published")
    return conn


def _heard(conn, seconds=1.0):
    return [json.loads(n.payload) for n in conn.notifies(timeout=seconds)]


def _newly_above(conn, run_id, previous, min_score=80):
    """Computed from history and targets, independently of the publish SQL."""
    return {r[0] for r in conn.execute(
        "SELECT h.customer_id FROM score_history h JOIN retention_targets t USING (customer_id) "
        "WHERE h.run_id = %s AND h.risk_score >= %s AND t.run_id = %s AND t.treatment_group = 'treatment' "
        "AND NOT EXISTS (SELECT 1 FROM score_history p WHERE p.run_id = %s AND p.customer_id = h.customer_id "
        "AND p.risk_score >= %s)", (run_id, min_score, run_id, previous, min_score)).fetchall()}


def test_one_notification_per_published_run_and_none_for_shadow_or_failed_runs(cli, trained_db_url, trained_conn):
    listener = _listen(trained_db_url)
    try:
        first = run_score(cli)
        heard = _heard(listener)
        assert [h["run_id"] for h in heard] == [first["run_id"]]
        assert heard[0]["notifications"] == trained_conn.execute(
            "SELECT count(*) FROM notification_outbox WHERE run_id = %s", (first["run_id"],)).fetchone()[0]
        assert cli("score", "--as-of", "1999-01-01").code == 1                 # a failed run
        assert cli("train", "--json").code == 0
        assert cli("score", "--shadow", "2").code == 0                         # a shadow run
        assert _heard(listener) == []
        second = run_score(cli)
        assert [h["run_id"] for h in _heard(listener)] == [second["run_id"]]
    finally:
        listener.close()


def test_the_outbox_holds_exactly_the_customers_newly_above_the_threshold(cli, trained_conn, tmp_path):
    first = run_score(cli)
    outbox = lambda run: {r[0] for r in trained_conn.execute(  # noqa: E731
        "SELECT customer_id FROM notification_outbox WHERE run_id = %s", (run,)).fetchall()}
    expected = _newly_above(trained_conn, first["run_id"], None)
    assert expected and outbox(first["run_id"]) == expected
    control = {r[0] for r in trained_conn.execute("SELECT customer_id FROM retention_targets "
                                                  "WHERE treatment_group = 'control'").fetchall()}
    assert not outbox(first["run_id"]) & control
    again = run_score(cli)                                                     # nobody is new: nothing queued
    assert outbox(again["run_id"]) == set()
    path = tmp_path / "later.csv"
    write_sample(TRAINED_ROWS, path, seed=77)                                  # the same customers, changed
    assert cli("ingest", path, "--as-of", "2026-10-31").code == 0
    later = run_score(cli)
    assert outbox(later["run_id"]) == _newly_above(trained_conn, later["run_id"], again["run_id"])


def test_draining_sends_each_notification_once_even_with_two_consumers(cli, trained_db_url, trained_conn):
    run_score(cli)
    queued = trained_conn.execute("SELECT count(*) FROM notification_outbox").fetchone()[0]
    assert queued > 0
    got: list[int] = []
    lock = threading.Lock()

    def send(batch):
        with lock:
            got.extend(n.notification_id for n in batch)

    threads = [threading.Thread(target=drain, args=(trained_db_url, send), kwargs={"consumer": f"c{i}", "batch": 7})
               for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(got) == sorted(set(got)) and len(got) == queued
    assert drain(trained_db_url, send) == 0                                     # draining again sends nothing
    assert len(got) == queued

    def crash(batch):
        raise RuntimeError("gateway down")

    trained_conn.execute("UPDATE notification_outbox SET sent_at = NULL, sent_by = NULL "
                         "WHERE notification_id = (SELECT min(notification_id) FROM notification_outbox)")
    try:
        drain(trained_db_url, crash)
    except RuntimeError:
        pass
    assert trained_conn.execute("SELECT count(*) FROM notification_outbox WHERE sent_at IS NULL").fetchone()[0] == 1
    assert drain(trained_db_url, send) == 1                                     # offered again after the crash


def test_the_crm_reads_and_marks_the_outbox_and_nothing_else_of_it(cli, trained_db_url, trained_conn):
    import uuid

    from psycopg import sql

    run_score(cli)
    user = f"t_crm_{uuid.uuid4().hex[:8]}"
    trained_conn.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE churn_crm").format(sql.Identifier(user)))
    try:
        with psycopg.connect(trained_db_url, user=user, autocommit=True) as c:
            c.execute("SELECT * FROM churndb.notification_outbox LIMIT 1")
            c.execute("UPDATE churndb.notification_outbox SET sent_at = now(), sent_by = 'crm' "
                      "WHERE notification_id IN (SELECT min(notification_id) FROM churndb.notification_outbox)")
            for statement in ("UPDATE churndb.notification_outbox SET risk_score = 0",
                              "DELETE FROM churndb.notification_outbox",
                              "INSERT INTO churndb.notification_outbox (run_id, customer_id, risk_score, risk_category, "
                              "churn_probability, retention_action) VALUES (1, 1, 99, 'Critical', 0.99, 'x')"):
                try:
                    c.execute(statement)
                except psycopg.errors.InsufficientPrivilege:
                    continue
                raise AssertionError(f"churn_crm could run: {statement}")
    finally:
        trained_conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(user)))
        trained_conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(user)))
