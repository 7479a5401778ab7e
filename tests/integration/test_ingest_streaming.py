"""Ingest is streamed, for the telecom layout and every source: memory flat in the file's size,
duplicates found across chunks (issue 14 item 4, issue 15)."""

import datetime as dt
import tracemalloc


from churndb.ingest import operator_layout
from churndb.ingest.operator_layout import ingest_source
from churndb.ingest.snapshot import ingest_snapshot
from churndb.model.sample import generate, write_sample


def test_duplicates_across_chunks_are_quarantined_exactly_as_within_one(db_url, conn, tmp_path):
    frame = generate(400, seed=21)
    frame.loc[150, "customer_id"] = frame.loc[10, "customer_id"]     # two chunks apart at 50 per chunk
    frame.loc[300, "customer_id"] = frame.loc[10, "customer_id"]
    frame.loc[300, "age"] = 250                                       # this copy is bad for another reason too
    path = tmp_path / "dupes.csv"
    frame.to_csv(path, index=False)
    small = ingest_snapshot(db_url, path, dt.date(2026, 9, 1), chunk_rows=50)
    whole = ingest_snapshot(db_url, path, dt.date(2026, 9, 2), chunk_rows=10_000)
    assert (small.rows_in, small.rows_loaded, small.rows_rejected) == (400, 397, 3)
    assert (whole.rows_in, whole.rows_loaded, whole.rows_rejected) == (400, 397, 3)
    rejected = lambda b: conn.execute(  # noqa: E731
        "SELECT line_number, customer_id, raw_line, reason FROM rejected_rows WHERE batch_id = %s ORDER BY 1",
        (b,)).fetchall()
    assert rejected(small.batch_id) == rejected(whole.batch_id)
    lines = [r[0] for r in rejected(small.batch_id)]
    assert lines == [12, 152, 302]                                    # header is line 1
    key = str(frame.loc[10, "customer_id"])
    for line, customer, raw, reason in rejected(small.batch_id):
        assert f"customer_id {key} appears more than once (lines 12, 152, 302)" in reason
        assert raw == path.read_text().splitlines()[line - 1]         # the record as it was in the file
    assert "age: '250' is outside 18..100" in rejected(small.batch_id)[2][3]


def _peak_mib(db_url, path, day, monkeypatch) -> tuple[float, float]:
    """Python's traced peak, and the most Arrow's memory pool held while a chunk was being split (Arrow's
    buffers are not Python allocations: tracemalloc does not see them)."""
    import pyarrow as pa

    from churndb.ingest import csvfile

    arrow = [0]
    split = csvfile._split_fields

    def watched(*args):
        arrow[0] = max(arrow[0], pa.total_allocated_bytes())
        return split(*args)

    monkeypatch.setattr(csvfile, "PLAIN_BLOCK", 1 << 18)  # blocks smaller than the files, as a large file's are
    monkeypatch.setattr(csvfile, "_split_fields", watched)
    tracemalloc.start()
    try:
        ingest_snapshot(db_url, path, day, chunk_rows=5_000)
        return tracemalloc.get_traced_memory()[1] / 2**20, arrow[0] / 2**20
    finally:
        tracemalloc.stop()


def test_peak_memory_does_not_grow_with_the_file(db_url, tmp_path, monkeypatch):
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    write_sample(10_000, small, seed=1)
    write_sample(60_000, large, seed=2)
    a, arrow_a = _peak_mib(db_url, small, dt.date(2026, 9, 1), monkeypatch)
    b, arrow_b = _peak_mib(db_url, large, dt.date(2026, 9, 2), monkeypatch)
    size_ratio = large.stat().st_size / small.stat().st_size
    assert size_ratio > 5
    # Held whole, six times the rows took about six times the memory; streamed, the peak is one chunk's.
    assert b < 1.5 * a, (a, b)
    assert 0 < arrow_b < 1.5 * arrow_a, (arrow_a, arrow_b)


# ---- a registered source takes the same streamed path ---------------------------------------------------

def _telco(rows: int, seed: int):
    """An operator's own layout: text keys, Yes/No flags, a decimal charge, a Churn label."""
    frame = generate(rows, seed=seed)
    return frame.assign(customerID=[f"{i:04d}-X{seed}" for i in range(rows)],
                        Churn=frame["is_churn"].map({1: "Yes", 0: "No"}),
                        AutoPay=frame["auto_pay_enrolled"].map({1: "Yes", 0: "No"})) \
        .drop(columns=["customer_id", "is_churn", "auto_pay_enrolled"])


def _source_peak_mib(db_url, path, name, monkeypatch) -> float:
    monkeypatch.setattr(operator_layout, "CHUNK_ROWS", 1_000)
    tracemalloc.start()
    try:
        ingest_source(db_url, path, name, id_column="customerID", label_column="Churn",
                      value_column="monthly_charges", as_of=dt.date(2026, 9, 1))
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_a_source_file_is_streamed_too(db_url, tmp_path, monkeypatch):
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    _telco(2_000, 1).to_csv(small, index=False)
    _telco(12_000, 2).to_csv(large, index=False)
    a = _source_peak_mib(db_url, small, "ops_small", monkeypatch)
    b = _source_peak_mib(db_url, large, "ops_large", monkeypatch)
    assert b < 1.5 * a, (a, b)


def test_a_source_key_twice_chunks_apart_is_quarantined_with_every_copy(db_url, conn, tmp_path, monkeypatch):
    frame = _telco(400, 3).astype({"tenure_months": object, "monthly_charges": object})
    frame.loc[150, "customerID"] = frame.loc[10, "customerID"]       # chunks apart at 50 per chunk
    frame.loc[300, "customerID"] = frame.loc[10, "customerID"]
    frame.loc[300, "tenure_months"] = "many"                          # this copy is bad for another reason too
    frame.loc[360, "monthly_charges"] = "x"                          # one text value: still a number column
    path = tmp_path / "dupes.csv"
    frame.to_csv(path, index=False)
    monkeypatch.setattr(operator_layout, "CHUNK_ROWS", 50)
    small = ingest_source(db_url, path, "ops_dupes", id_column="customerID", label_column="Churn",
                          as_of=dt.date(2026, 9, 1))
    monkeypatch.setattr(operator_layout, "CHUNK_ROWS", 100_000)
    whole = ingest_source(db_url, path, "ops_dupes", as_of=dt.date(2026, 9, 2))
    for batch in (small, whole):
        assert (batch.rows_in, batch.rows_loaded, batch.rows_rejected) == (400, 396, 4)
    rejected = lambda b: conn.execute(  # noqa: E731
        "SELECT line_number, customer_id, raw_line, reason FROM rejected_rows WHERE batch_id = %s ORDER BY 1",
        (b,)).fetchall()
    assert rejected(small.batch_id) == rejected(whole.batch_id)
    assert [r[0] for r in rejected(small.batch_id)] == [12, 152, 302, 362]
    key = frame.loc[10, "customerID"]
    lines = path.read_text().splitlines()
    for line, customer, raw, reason in rejected(small.batch_id)[:3]:
        assert customer == key and f"customerID {key} appears more than once (lines 12, 152, 302)" in reason
        assert raw == lines[line - 1]
    assert "tenure_months: 'many' is not a number" in rejected(small.batch_id)[2][3]
    # Types come from every value of the file, not its first chunk: the layout is the same both ways.
    types = dict(conn.execute("SELECT c ->> 'header', c ->> 'type' FROM sources, "
                              "jsonb_array_elements(columns) c WHERE source = 'ops_dupes'").fetchall())
    assert types["monthly_charges"] == "double precision" and types["customerID"] == "text"


def test_a_chunk_write_that_fails_in_the_background_is_raised_not_lost(db_url):
    """Chunks are written while the next one is checked; a write that fails there fails the load."""
    import pandas as pd
    import psycopg
    import pytest

    from churndb.ingest import batch

    with psycopg.connect(db_url) as conn:
        conn.execute(batch.SQL.query("create_batch_rejections"))
        with pytest.raises(psycopg.errors.UndefinedTable):
            with batch.ChunkWriter(conn) as writer:
                writer.write([], "COPY no_such_staging (x) FROM STDIN WITH (FORMAT csv)", pd.DataFrame({"x": [1]}))
