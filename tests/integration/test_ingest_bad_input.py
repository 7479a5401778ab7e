"""Every malformed input gets a one-line error (exit 1, nothing written) or a
reconciled load with each bad row quarantined and explained."""

import pytest

from churndb.model.sample import generate

HEADER = ",".join(generate(1).columns)


def good_rows(n=5, seed=21):
    return generate(n, seed=seed).to_csv(index=False, header=False).splitlines()


def _no_batches(conn):
    return conn.execute("SELECT count(*) FROM ingest_batches").fetchone()[0] == 0


def assert_clean_error(res, conn, *words):
    assert res.code == 1
    lines = [line for line in res.err.splitlines() if line.strip()]
    assert len(lines) == 1, res.err
    assert "Traceback" not in res.err
    for word in words:
        assert word.lower() in lines[0].lower(), lines[0]
    assert _no_batches(conn)


@pytest.mark.parametrize("content, words", [
    (b"", ["empty"]),
    (b"   \n\n", ["empty"]),
    ((HEADER + "\n").encode(), ["no data rows"]),
    (b"customer_id,age\n1,30\n", ["missing required column", "gender"]),
    ((HEADER.replace(",", ";") + "\n" + good_rows(1)[0].replace(",", ";") + "\n").encode(), ["semicolon"]),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", ["binary"]),
    ((HEADER + "\n").encode() + b"\xff\xfe\xfa broken,\n", ["not UTF-8"]),
    ((HEADER + ",age\n").encode() + good_rows(1)[0].encode(), ["repeats column", "age"]),
])
def test_unusable_files_stop_with_one_line(cli, conn, write_csv, content, words):
    assert_clean_error(cli("ingest", write_csv(content), "--as-of", "2026-01-01"), conn, *words)


def test_missing_file_and_bad_date_are_one_line_errors(cli, conn, write_csv, tmp_path):
    assert_clean_error(cli("ingest", tmp_path / "nope.csv"), conn, "no such file")
    path = write_csv(HEADER + "\n" + "\n".join(good_rows(2)) + "\n")
    assert_clean_error(cli("ingest", path, "--as-of", "31/12/2026"), conn, "not a date")


def _load(cli, write_csv, rows, as_of="2026-01-01"):
    res = cli("ingest", write_csv(HEADER + "\n" + "\n".join(rows) + "\n"), "--as-of", as_of, "--json")
    assert res.code == 0, res.err
    out = res.json
    assert out["rows_in"] == out["rows_loaded"] + out["rows_rejected"]
    return out


def _reasons(conn, batch_id):
    return {line: (reason, raw) for line, reason, raw in conn.execute(
        "SELECT line_number, reason, raw_line FROM rejected_rows WHERE batch_id = %s", (batch_id,)).fetchall()}


def _set(row: str, column: str, value: str) -> str:
    fields = row.split(",")
    fields[HEADER.split(",").index(column)] = value
    return ",".join(fields)


def test_bad_rows_are_quarantined_with_reasons_and_good_rows_load(cli, conn, write_csv):
    good = good_rows(12)
    rows = [
        good[0],                                              # line 2: fine
        _set(good[1], "age", "250"),                          # 3: out of range
        _set(good[2], "monthly_charges", "twelve"),           # 4: text in numeric
        _set(good[3], "gender", "Robot"),                     # 5: not an allowed value
        _set(_set(good[4], "num_complaints_3m", "9"), "num_complaints_12m", "2"),  # 6: 3m > 12m
        ",".join(good[5].split(",")[:10]),                    # 7: ragged (too few fields)
        good[6] + ",extra",                                   # 8: ragged (too many fields)
        _set(good[7], "dropped_call_rate", "nan"),            # 9: not a number
        _set(good[8], "avg_data_speed_mbps", "inf"),          # 10: not finite
        _set(good[9], "tenure_months", "3.5"),                # 11: not whole
        _set(good[10], "customer_id", "-4"),                  # 12: negative id
        _set(good[11], "monthly_charges", "1e300"),           # 13: too large
    ]
    out = _load(cli, write_csv, rows)
    assert (out["rows_in"], out["rows_loaded"], out["rows_rejected"]) == (12, 1, 11)
    reasons = _reasons(conn, out["batch_id"])
    expect = {3: "outside 18..100", 4: "not a number", 5: "not one of", 6: "complaints in 3 months exceed",
              7: "has 10 fields", 8: "has 37 fields", 9: "not a number", 10: "not a finite number",
              11: "not a whole number", 12: "below 1", 13: "too large"}
    assert set(reasons) == set(expect)
    for line, phrase in expect.items():
        assert phrase in reasons[line][0], (line, reasons[line][0])
        assert reasons[line][1] == rows[line - 2], "raw text must be kept exactly"


def test_duplicate_ids_are_all_quarantined(cli, conn, write_csv):
    good = good_rows(4)
    dup = _set(good[3], "customer_id", good[0].split(",")[0])
    out = _load(cli, write_csv, good[:3] + [dup])
    assert (out["rows_loaded"], out["rows_rejected"]) == (2, 2)
    assert all("appears more than once" in r for r, _ in _reasons(conn, out["batch_id"]).values())


def test_quotes_and_sql_in_text_fields_are_data_not_code(cli, conn, write_csv):
    good = good_rows(3)
    nasty = _set(good[0], "gender", "\"Robert'); DROP TABLE churndb.customer_snapshots;--\"")
    out = _load(cli, write_csv, [nasty] + good[1:])
    assert (out["rows_loaded"], out["rows_rejected"]) == (2, 1)
    reason, raw = next(iter(_reasons(conn, out["batch_id"]).values()))
    assert "DROP TABLE" in raw and "not one of" in reason
    assert conn.execute("SELECT count(*) FROM customer_snapshots").fetchone()[0] == 2


def test_blank_lines_inside_the_file_are_counted_not_dropped(cli, conn, write_csv):
    good = good_rows(3)
    out = _load(cli, write_csv, [good[0], "", good[1], good[2]])
    assert (out["rows_in"], out["rows_loaded"], out["rows_rejected"]) == (4, 3, 1)
    assert "blank line" in next(iter(_reasons(conn, out["batch_id"]).values()))[0]


def test_lenient_spellings_are_normalised(cli, conn, write_csv):
    row = _set(_set(good_rows(1)[0], "gender", " female "), "auto_pay_enrolled", "Yes")
    out = _load(cli, write_csv, [row])
    assert out["rows_loaded"] == 1
    assert conn.execute("SELECT gender, auto_pay_enrolled FROM customer_snapshots").fetchone() == ("Female", 1)


def test_bom_and_crlf_and_extra_columns(cli, conn, write_csv):
    good = good_rows(3)
    text = "\ufeff" + HEADER + ",favourite_colour\r\n" + "\r\n".join(r + ",blue" for r in good) + "\r\n"
    res = cli("ingest", write_csv(text), "--as-of", "2026-01-01", "--json")
    assert res.code == 0, res.err
    assert res.json["rows_loaded"] == 3 and res.json["ignored_columns"] == ["favourite_colour"]


def test_bad_usage_exits_2(cli):
    assert cli("ingest").code == 2
    assert cli("frobnicate").code == 2


def test_control_characters_in_a_header_stay_on_one_line(cli, db_url, write_csv):
    """Found by hypothesis: a header of b'\\x01\\x0b\\x01' was echoed raw, and a vertical tab splits the line."""
    for blob in (b"\x01\x0b\x01", b"a\x0cb,c\x1cd\n1,2\n", "x\u2028y\n1\n".encode()):
        res = cli("ingest", write_csv(blob), "--as-of", "2026-01-31")
        assert res.code == 1
        assert len(res.err.strip().splitlines()) == 1, res.err
        assert "missing required column" in res.err
