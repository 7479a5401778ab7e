"""Telecom ingest is streamed: memory flat in the file's size, duplicates found across chunks (issue 14 item 4)."""

import datetime as dt
import tracemalloc


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


def _peak_mib(db_url, path, day) -> float:
    tracemalloc.start()
    try:
        ingest_snapshot(db_url, path, day, chunk_rows=5_000)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_peak_memory_does_not_grow_with_the_file(db_url, tmp_path):
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    write_sample(10_000, small, seed=1)
    write_sample(60_000, large, seed=2)
    a = _peak_mib(db_url, small, dt.date(2026, 9, 1))
    b = _peak_mib(db_url, large, dt.date(2026, 9, 2))
    size_ratio = large.stat().st_size / small.stat().st_size
    assert size_ratio > 5
    # Held whole, six times the rows took about six times the memory; streamed, the peak is one chunk's.
    assert b < 1.5 * a, (a, b)
