"""Trust defects from the review (issue 14): each test here failed on the code before its fix."""

import os
import stat
import time

import psycopg
import pytest

from churndb.base.config import Settings
from churndb.base.errors import ConfigError
from churndb.store.db import redact
from churndb.store.signing import MIN_KEY_BYTES, signing_key
from tests.conftest import run_score


def _current_targets(conn):
    return conn.execute("SELECT customer_id, run_id FROM retention_targets WHERE is_current ORDER BY 1").fetchall()


# ---- 1. an empty or partial run is never published ------------------------------------------------------
def test_a_run_that_scores_nobody_fails_and_leaves_the_crm_table_alone(cli, trained_conn):
    first = run_score(cli)
    before = _current_targets(trained_conn)
    assert before and {r[1] for r in before} == {first["run_id"]}
    res = cli("score", "--as-of", "1999-01-01", "--json")
    assert res.code == 1 and len(res.err.strip().splitlines()) == 1, res.err
    assert "nothing was published" in res.err
    assert _current_targets(trained_conn) == before
    status = trained_conn.execute("SELECT status FROM scoring_runs ORDER BY run_id DESC LIMIT 1").fetchone()[0]
    assert status == "failed"
    assert trained_conn.execute("SELECT count(*) FROM v_current_scores").fetchone()[0] > 0
    res = cli("monitor", "--json")
    assert res.code == 0, res.err


def test_zero_rows_per_chunk_is_a_config_error_not_an_empty_publish(cli, trained_conn, tmp_path, monkeypatch):
    run_score(cli)
    before = _current_targets(trained_conn)
    config = tmp_path / "zero.toml"
    config.write_text("[score]\nchunk_rows = 0\n")
    monkeypatch.setenv("CHURNDB_CONFIG", str(config))
    res = cli("jobs", "run", "score", "--json")
    assert res.code == 1 and "chunk_rows" in res.err and len(res.err.strip().splitlines()) == 1, res.err
    assert _current_targets(trained_conn) == before


# ---- 2. passwords never reach output --------------------------------------------------------------------
@pytest.mark.parametrize("url", [
    "postgresql://churn:pa#ss?wd@db.example:5432/churn",
    "postgresql://churn:p%40ss%23w@db.example/churn",
    "postgresql://churn@db.example/churn?sslmode=require&password=pa55wd",
    "host=db.example port=5432 user=churn password=pa55wd dbname=churn",
    "host=db.example password='pa 55 wd' user=churn",
])
def test_redaction_hides_every_spelling_of_a_password(url):
    shown = redact(url)
    for secret in ("pa#ss?wd", "pa55wd", "p%40ss%23w", "p@ss#w", "pa 55 wd", "55"):
        assert secret not in shown, shown
    assert "db.example" in shown  # still says where it tried to connect


def test_cannot_connect_line_carries_no_password(cli, monkeypatch):
    monkeypatch.setenv("CHURNDB_DATABASE_URL", "host=127.0.0.1 port=9 user=churn password=Zq7#Kp?x dbname=churn")
    monkeypatch.setenv("CHURNDB_CONNECT_TIMEOUT", "2")
    res = cli("status")
    assert res.code == 1 and "cannot connect" in res.err
    assert "Zq7" not in res.err + res.out


# ---- 3. the signing key is never empty or trivial -------------------------------------------------------
def test_short_or_empty_signing_keys_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="at least"):
        signing_key(Settings(database_url=None, home=tmp_path, signing_key="x"))
    (tmp_path / "signing.key").write_text("")
    with pytest.raises(ConfigError, match="at least"):
        signing_key(Settings(database_url=None, home=tmp_path, signing_key=None))


def test_a_new_key_file_is_long_and_private(tmp_path):
    key = signing_key(Settings(database_url=None, home=tmp_path / "home", signing_key=None))
    path = tmp_path / "home" / "signing.key"
    assert len(key) >= MIN_KEY_BYTES
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert signing_key(Settings(database_url=None, home=tmp_path / "home", signing_key=None)) == key
    assert not [p for p in path.parent.iterdir() if p.name != "signing.key"]  # no temporary file left behind


# ---- 7. dates are strict ISO and data is never dated in the future --------------------------------------
@pytest.mark.parametrize("date", ["2026W49", "2026-W49-2", "2026-13-01", "20261201", "1 Dec 2026"])
def test_a_date_that_is_not_yyyy_mm_dd_is_refused_and_loads_nothing(cli, conn, sample_csv, date):
    res = cli("ingest", sample_csv, "--as-of", date)
    assert res.code == 1 and len(res.err.strip().splitlines()) == 1 and "--as-of" in res.err, res.err
    assert conn.execute("SELECT count(*) FROM ingest_batches").fetchone()[0] == 0
    res = cli("outcomes", "load", sample_csv, "--as-of", date)
    assert res.code == 1 and "--as-of" in res.err, res.err


# ---- 15. exports and reports (customers' personal data) are private to their owner ----------------------
def test_exports_and_report_files_are_readable_by_their_owner_only(cli, trained_conn, tmp_path):
    run_score(cli)
    out = tmp_path / "critical.csv"
    out.write_text("an older export, world-readable\n")
    out.chmod(0o644)
    assert cli("export", "--segment", "critical", "--out", out).code == 0
    res = cli("report", "--out", tmp_path / "rep", "--json")
    assert res.code == 0, res.err
    files = [out] + [p for p in (tmp_path / "rep").iterdir() if p.is_file()]
    assert len(files) >= 7
    loose = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files if p.stat().st_mode & 0o077}
    assert not loose, loose


# ---- 11. the start of a run cannot be mistaken for an abandoned run -------------------------------------
def test_a_starting_run_is_never_taken_for_an_abandoned_one(trained_db_url):
    """Before the fix the run row was committed before its lock was taken: a concurrent check for
    abandoned runs, looping here while 150 runs start, caught some of them in that window."""
    import datetime as dt
    import threading

    from churndb.store import db, run_state

    stop = threading.Event()
    marked: list[int] = []

    def sweep():
        with db.connect(trained_db_url, autocommit=True) as other:
            while not stop.is_set():
                marked.extend(run_state.fail_abandoned(other))

    sweeper = threading.Thread(target=sweep)
    sweeper.start()
    started = []
    try:
        for _ in range(150):
            with db.connect(trained_db_url, autocommit=True) as starter:  # closing it releases the lock
                started.append(run_state.start(starter, model_version=1, policy_version=1,
                                               as_of=dt.date(2026, 9, 30), source="customer_snapshots",
                                               campaign="c", shadow=False, executor="local")[0])
                time.sleep(0.002)
                assert started[-1] not in marked, f"run {started[-1]} was marked failed while it held its lock"
    finally:
        stop.set()
        sweeper.join(30)


def test_a_run_marked_failed_is_never_flipped_to_succeeded(trained_conn):
    from churndb.base.errors import ChurnDBError
    from churndb.store import run_state

    run_id = trained_conn.execute("INSERT INTO scoring_runs (model_version, policy_version, as_of_date, status) "
                                  "VALUES (1, 1, '2026-09-30', 'failed') RETURNING run_id").fetchone()[0]
    with pytest.raises(ChurnDBError, match="marked failed"):
        run_state.succeed(trained_conn, run_id, customers=1, targets=0, partitions=None, stage_seconds={},
                          summary={})
    assert trained_conn.execute("SELECT status FROM scoring_runs WHERE run_id = %s", (run_id,)).fetchone()[0] == "failed"


def test_a_lock_in_another_database_does_not_keep_a_dead_run_alive(trained_conn, trained_db_url, pg_admin_url):
    from churndb.store import run_state
    from tests.conftest import create_database, drop_database

    dead = trained_conn.execute("INSERT INTO scoring_runs (model_version, policy_version, as_of_date) "
                                "VALUES (1, 1, '2026-09-30') RETURNING run_id").fetchone()[0]
    name, other_url = create_database(pg_admin_url)
    try:
        with psycopg.connect(other_url, autocommit=True) as elsewhere:
            elsewhere.execute("SELECT pg_advisory_lock(7301, %s::int)", (dead,))  # same key, another database
            assert dead in run_state.fail_abandoned(trained_conn)
    finally:
        drop_database(pg_admin_url, name)


# ---- 13. a config value of the wrong type is one line naming the key ------------------------------------
@pytest.mark.parametrize("text, command, key", [
    ("database_url = 5\n", ("status",), "database_url"),
    ("[monitor]\npsi_warn = \"high\"\n", ("monitor",), "psi_warn"),
    ("[monitor]\nhorizon_days = 2.5\n", ("monitor",), "horizon_days"),
    ("[history]\nmonths_ahead = \"x\"\n", ("history",), "months_ahead"),
    ("[score]\nworkers = \"two\"\nexecutor = \"dask\"\n", ("score",), "workers"),
    ("[retrain]\nauc_tolerance = \"lots\"\n", ("train",), "auc_tolerance"),
    ("\ufeff", ("status",), "TOML"),
])
def test_a_config_value_of_the_wrong_type_is_one_line_naming_it(cli, trained_db_url, tmp_path, monkeypatch,
                                                               text, command, key):
    config = tmp_path / "bad.toml"
    config.write_text(text, encoding="utf-8")
    monkeypatch.setenv("CHURNDB_CONFIG", str(config))
    if key == "database_url":
        monkeypatch.delenv("CHURNDB_DATABASE_URL")
    res = cli(*command)
    assert res.code == 1 and len(res.err.strip().splitlines()) == 1, res.err
    assert key in res.err and "internal error" not in res.err, res.err


# ---- 8. the feed job: one bad file never blocks the others, no file is loaded twice ---------------------
def test_the_feed_job_loads_good_files_and_sets_bad_ones_aside(cli, conn, tmp_path, monkeypatch):
    from churndb.model.sample import write_sample

    feed = tmp_path / "feed"
    feed.mkdir()
    write_sample(300, feed / "customers_2026-10-01.csv", seed=1)
    (feed / "customers_2026-10-02.csv").write_text("")                       # empty
    write_sample(300, feed / "customers_2026-13-01.csv", seed=2)             # no such month
    write_sample(300, feed / "customers_latest.csv", seed=3)                 # no date: would load daily
    write_sample(300, feed / "customers_2026-10-03.csv", seed=4)             # after the bad ones
    config = tmp_path / "feed.toml"
    config.write_text(f'[feed]\ndirectory = "{feed}"\n')
    monkeypatch.setenv("CHURNDB_CONFIG", str(config))

    res = cli("jobs", "run", "ingest_feed", "--json")
    assert res.code == 0, res.err
    out = res.json
    assert sorted(f["file"] for f in out["files"]) == ["customers_2026-10-01.csv", "customers_2026-10-03.csv"]
    assert sorted(f["file"] for f in out["failed"]) == ["customers_2026-10-02.csv", "customers_2026-13-01.csv",
                                                         "customers_latest.csv"]
    assert sorted(p.name for p in (feed / "processed").iterdir()) == ["customers_2026-10-01.csv",
                                                                       "customers_2026-10-03.csv"]
    reasons = {p.name: p.read_text() for p in (feed / "failed").glob("*.error.txt")}
    assert "empty" in reasons["customers_2026-10-02.csv.error.txt"]
    assert "date" in reasons["customers_2026-13-01.csv.error.txt"]
    assert "named with its snapshot date" in reasons["customers_latest.csv.error.txt"]
    dates = [r[0].isoformat() for r in conn.execute("SELECT as_of_date FROM ingest_batches ORDER BY 1")]
    assert dates == ["2026-10-01", "2026-10-03"]

    res = cli("jobs", "run", "ingest_feed", "--json")  # the next day: nothing new, nothing loaded again
    assert res.code == 0 and res.json["files"] == [] and res.json["failed"] == []
    assert conn.execute("SELECT count(*) FROM ingest_batches").fetchone()[0] == 2


# ---- 10. no personal data in model metadata ------------------------------------------------------------
def test_identifier_columns_and_long_category_lists_stay_out_of_the_model(cli, db_url, write_csv):
    import numpy as np
    import pandas as pd

    from churndb.model.features import MAX_CATEGORIES
    from churndb.model.sample import generate

    df = generate(2_000, seed=5)
    rng = np.random.default_rng(5)
    export = pd.DataFrame({
        "Ref": df["customer_id"], "Email": [f"person{i}@example.org" for i in range(len(df))],
        "Phone": [f"+44 7700 {i:06d}" for i in range(len(df))],
        "City": [f"town-{c}" for c in rng.integers(0, 300, len(df))], "Contract": df["contract_type"],
        "Tenure": df["tenure_months"], "Left": np.where(df["is_churn"] == 1, "Yes", "No"),
    })
    assert cli("ingest", write_csv(export.to_csv(index=False)), "--table", "pii", "--id-column", "Ref",
               "--label-column", "Left").code == 0
    res = cli("train", "--source", "pii", "--id-column", "ref", "--label-column", "left", "--json")
    assert res.code == 0, res.err
    with psycopg.connect(db_url) as conn:
        spec, training = conn.execute("SELECT feature_spec, training FROM churndb.model_versions "
                                      "WHERE model_version = %s", (res.json["model_version"],)).fetchone()
    text = str(spec)
    assert "@example.org" not in text and "7700" not in text
    assert set(training["identifier_columns_excluded"]) == {"email", "phone"}
    assert 0 < len(spec["categories"]["city"]) <= MAX_CATEGORIES
    assert len(spec["baseline"]["city"]["categories"]) <= MAX_CATEGORIES


def test_a_sudden_shift_in_the_target_count_is_published_with_an_alert(cli, trained_conn):
    first = run_score(cli)
    assert trained_conn.execute("SELECT count(*) FROM alerts WHERE rule = 'target_shift'").fetchone()[0] == 0
    trained_conn.execute("UPDATE segment_policy SET contact_capacity = 50")  # a policy change cuts targets
    second = run_score(cli)
    assert second["targets"] <= 50 < first["targets"]
    alerts = trained_conn.execute("SELECT run_id, details FROM alerts WHERE rule = 'target_shift'").fetchall()
    assert [a[0] for a in alerts] == [second["run_id"]]
    assert alerts[0][1]["previous_targets"] == first["targets"]
    assert trained_conn.execute("SELECT status FROM scoring_runs WHERE run_id = %s",
                                (second["run_id"],)).fetchone()[0] == "succeeded"
    run_score(cli)  # the same again: no new alert
    assert trained_conn.execute("SELECT count(*) FROM alerts WHERE rule = 'target_shift'").fetchone()[0] == 1


def test_data_dated_in_the_future_is_refused_and_loads_nothing(cli, conn, sample_csv, write_csv):
    import datetime as dt

    ahead = (dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=3)).isoformat()
    for command in (("ingest", sample_csv, "--as-of", "2209-11-01"), ("ingest", sample_csv, "--as-of", ahead),
                    ("outcomes", "load", write_csv("customer_id,churned\n1,0\n"), "--as-of", ahead)):
        res = cli(*command)
        assert res.code == 1 and "in the future" in res.err and len(res.err.strip().splitlines()) == 1, res.err
    assert conn.execute("SELECT count(*) FROM ingest_batches").fetchone()[0] == 0
    assert cli("ingest", sample_csv, "--as-of", dt.date.today().isoformat()).code == 0
