"""Property-based: whatever bytes arrive, ingest answers with a clean error or a reconciled load."""

import datetime as dt
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churndb.model.sample import generate

HEADER = ",".join(generate(1).columns)
GOOD = generate(30, seed=99).to_csv(index=False, header=False).splitlines()
dates = itertools.count()

nasty_values = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "NaN", "nan", "inf", "-inf", "1e309", "-1", "99999999999999999999", "0x10", "1,5",
                     '"', '""', "'; DROP TABLE churndb.customer_snapshots; --", "\u0000", "\u202e", "😀",
                     "x" * 5000]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


def mutate(row: str, data) -> str:
    fields = row.split(",")
    for _ in range(data.draw(st.integers(0, 4))):
        i = data.draw(st.integers(0, len(fields) - 1))
        value = data.draw(nasty_values)
        fields[i] = '"' + value.replace('"', '""') + '"' if data.draw(st.booleans()) else value
    if data.draw(st.integers(0, 9)) == 0:
        fields = fields[: data.draw(st.integers(0, len(fields)))]  # ragged
    return ",".join(fields)


def check_outcome(res, conn, snapshots: str = "customer_snapshots"):
    """A clean one-line error, or a load whose counts reconcile (the rows loaded are in ``snapshots``, a table the test names)."""
    assert "Traceback" not in res.err and "internal error" not in res.err, res.err
    if res.code == 1:
        assert len(res.err.strip().splitlines()) == 1
        return
    assert res.code == 0, res.err
    out = res.json
    if out.get("already_loaded"):
        return
    assert out["rows_in"] == out["rows_loaded"] + out["rows_rejected"]
    batch = out["batch_id"]
    quarantined = conn.execute("SELECT count(*) FROM rejected_rows WHERE batch_id = %s", (batch,)).fetchone()[0]
    assert quarantined == out["rows_rejected"]
    if snapshots:
        loaded = conn.execute(f"SELECT count(*) FROM {snapshots} WHERE batch_id = %s", (batch,)).fetchone()[0]
        assert loaded == out["rows_loaded"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_rows_reconcile(cli, conn, write_csv, data):
    rows = [mutate(r, data) if data.draw(st.booleans()) else r for r in GOOD[: data.draw(st.integers(1, 30))]]
    if data.draw(st.booleans()):
        rows.append(data.draw(st.sampled_from(rows)))  # a duplicate id
    as_of = dt.date(2020, 1, 1) + dt.timedelta(days=next(dates))
    res = cli("ingest", write_csv(HEADER + "\n" + "\n".join(rows) + "\n"), "--as-of", as_of, "--json")
    check_outcome(res, conn)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=st.binary(max_size=3000))
def test_random_bytes_never_crash(cli, conn, write_csv, blob):
    # Dates in the past: a future date is refused before the file is even read.
    as_of = dt.date(2010, 1, 1) + dt.timedelta(days=next(dates))
    check_outcome(cli("ingest", write_csv(blob), "--as-of", as_of, "--json"), conn)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=2000))
def test_random_text_with_a_real_header_never_crashes(cli, conn, write_csv, text):
    as_of = dt.date(2015, 1, 1) + dt.timedelta(days=next(dates))
    check_outcome(cli("ingest", write_csv(HEADER + "\n" + text), "--as-of", as_of, "--json"), conn)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_hostile_files_for_an_operators_own_layout_never_crash(cli, conn, write_csv, data):
    """A source's first file sets its layout, so any header is possible: random headers, delimiters,
    quotes, mutated values, duplicate keys, against a fresh source each time."""
    n = next(dates)
    sep = data.draw(st.sampled_from([",", ";", "\t", "|"]))
    header = data.draw(st.lists(st.text(min_size=1, max_size=12).filter(lambda h: h.strip()), min_size=2,
                                max_size=6, unique_by=lambda h: h.strip()))
    rows = [sep.join(data.draw(st.one_of(nasty_values, st.integers(0, 9).map(str))) for _ in header)
            for _ in range(data.draw(st.integers(0, 20)))]
    text = sep.join(header) + "\n" + "\n".join(rows)
    key = data.draw(st.sampled_from(header))
    res = cli("ingest", write_csv(text), "--source", f"hostile_{n}", "--id-column", key.strip(), "--as-of",
              dt.date(2012, 1, 1) + dt.timedelta(days=n), "--json")
    check_outcome(res, conn, snapshots=f"churndb_source.hostile_{n}")
