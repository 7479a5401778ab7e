"""Loading telecom snapshots: reconciliation, labels, idempotence, atomicity."""

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import psycopg

from churndb.ingest.snapshot import ingest_snapshot
from churndb.model.sample import generate, write_sample


def _count(conn, sql, *params):
    return conn.execute(sql, params).fetchone()[0]


def test_25k_file_reconciles_exactly(cli, conn, sample_csv):
    res = cli("ingest", sample_csv, "--as-of", "2026-06-30", "--json")
    assert res.code == 0, res.err
    out = res.json
    assert out["rows_in"] == 25_000 == out["rows_loaded"] + out["rows_rejected"]
    assert out["rows_rejected"] == 0 and out["labels_loaded"] == 25_000
    assert _count(conn, "SELECT count(*) FROM customer_snapshots WHERE as_of_date = '2026-06-30'") == 25_000
    assert _count(conn, "SELECT count(*) FROM churn_outcomes WHERE observed_as_of = '2026-06-30'") == 25_000
    expected_churners = int(pd.read_csv(sample_csv)["is_churn"].sum())
    assert _count(conn, "SELECT count(*) FROM churn_outcomes WHERE churned") == expected_churners
    batch = conn.execute("SELECT rows_in, rows_loaded, rows_rejected, labels_loaded, file_sha256 "
                         "FROM ingest_batches WHERE batch_id = %s", (out["batch_id"],)).fetchone()
    assert batch[:4] == (25_000, 25_000, 0, 25_000) and len(batch[4]) == 64


def test_values_survive_the_round_trip(cli, conn, write_csv):
    df = generate(50, seed=11)
    path = write_csv(df.to_csv(index=False))
    assert cli("ingest", path, "--as-of", "2026-01-31").code == 0
    stored = pd.DataFrame(conn.execute(
        "SELECT customer_id, contract_type, monthly_charges::float8, dropped_call_rate, num_complaints_12m "
        "FROM customer_snapshots ORDER BY customer_id").fetchall(),
        columns=["customer_id", "contract_type", "monthly_charges", "dropped_call_rate", "num_complaints_12m"])
    expected = df[stored.columns].sort_values("customer_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(stored, expected, check_dtype=False)


def test_same_file_same_date_twice_changes_nothing(cli, conn, write_csv):
    path = write_csv(generate(300, seed=5).to_csv(index=False))
    first = cli("ingest", path, "--as-of", "2026-03-31", "--json").json
    second = cli("ingest", path, "--as-of", "2026-03-31", "--json").json
    assert second["already_loaded"] is True and second["batch_id"] == first["batch_id"]
    assert _count(conn, "SELECT count(*) FROM customer_snapshots") == 300
    assert _count(conn, "SELECT count(*) FROM ingest_batches") == 1
    # Another date is another snapshot of the same customers.
    assert cli("ingest", path, "--as-of", "2026-04-30", "--json").json["rows_loaded"] == 300
    assert _count(conn, "SELECT count(*) FROM customer_snapshots") == 600


def test_a_corrected_file_for_the_same_date_replaces_values_without_duplicates(cli, conn, write_csv):
    df = generate(100, seed=6)
    assert cli("ingest", write_csv(df.to_csv(index=False)), "--as-of", "2026-03-31").code == 0
    df.loc[0, "age"] = 77
    assert cli("ingest", write_csv(df.to_csv(index=False)), "--as-of", "2026-03-31").code == 0
    assert _count(conn, "SELECT count(*) FROM customer_snapshots") == 100
    assert _count(conn, "SELECT age FROM customer_snapshots WHERE customer_id = %s", int(df.loc[0, "customer_id"])) == 77


def test_two_files_for_one_new_date_loaded_at_once_both_load(db_url, conn, write_csv):
    """A new date's rows are inserted without the upsert's conflict check; two loads of the same new date
    at once take turns, so the second still replaces what the first loaded rather than failing."""
    first, second = generate(20_000, seed=6), generate(20_000, seed=6)
    second["age"] = 66
    paths = [write_csv(first.to_csv(index=False)), write_csv(second.drop(columns="is_churn").to_csv(index=False))]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda p: ingest_snapshot(db_url, p, dt.date(2026, 3, 31)), paths))
    assert [r.rows_loaded for r in results] == [20_000, 20_000]
    ages = conn.execute("SELECT customer_id, age FROM customer_snapshots ORDER BY customer_id").fetchall()
    expected = [sorted(zip(f["customer_id"].tolist(), f["age"].tolist())) for f in (first, second)]
    assert ages in expected  # 20,000 rows, all of one file: whichever committed last, whole


def test_file_without_labels_loads_snapshot_only(cli, conn, write_csv):
    path = write_csv(generate(40, seed=8).drop(columns="is_churn").to_csv(index=False))
    out = cli("ingest", path, "--as-of", "2026-02-28", "--json").json
    assert (out["rows_loaded"], out["labels_loaded"]) == (40, 0)
    assert _count(conn, "SELECT count(*) FROM churn_outcomes") == 0


def test_kill_during_load_leaves_nothing_visible(cli_process, conn, tmp_path, cli):
    path = tmp_path / "big.csv"
    write_sample(150_000, path, seed=9)
    proc = cli_process("ingest", path, "--as-of", "2026-05-31")
    deadline = time.monotonic() + 120
    killed = False
    while time.monotonic() < deadline and proc.poll() is None:
        # Kill once the loader is writing inside its transaction (COPY / upsert running).
        busy = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'churndb' "
            "AND state = 'active' AND (query ILIKE 'COPY%%' OR query ILIKE 'INSERT%%')").fetchone()[0]
        if busy:
            proc.kill()
            killed = True
            break
        time.sleep(0.02)
    proc.communicate()
    assert killed, "the loader finished before it could be killed; make the file larger"
    # The server notices the dead client and rolls its transaction back.
    for _ in range(100):
        if _count(conn, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'churndb'") == 0:
            break
        time.sleep(0.1)
    assert _count(conn, "SELECT count(*) FROM ingest_batches") == 0
    assert _count(conn, "SELECT count(*) FROM customer_snapshots") == 0
    assert _count(conn, "SELECT count(*) FROM rejected_rows") == 0
    # ... and loading again succeeds in full.
    res = cli("ingest", path, "--as-of", "2026-05-31", "--json")
    assert res.code == 0 and res.json["rows_loaded"] == 150_000


def test_database_refuses_an_unreconciled_batch(conn):
    try:
        conn.execute("INSERT INTO ingest_batches (source_file, file_sha256, target_table, rows_in, rows_loaded, "
                     "rows_rejected) VALUES ('f', 'x', 't', 10, 5, 4)")
    except psycopg.errors.CheckViolation:
        pass
    else:
        raise AssertionError("rows_in != loaded + rejected was accepted")
