"""The two CSV readers give the same records, and Arrow reads numbers as the text rules do (issue 15).

A plain file (no quote character, no lone carriage return) is split into records by Arrow's kernels;
any other file by Python's csv module.  Whichever reads a file, every record must come out the same:
its line number, its raw text, its stripped fields and its problem (blank line, wrong width), with
trailing blank lines not counted.  ``read_number_array`` reads the usual spellings in C and must give
the numbers ``read_numbers`` gives for every text, unusual ones included.
"""

from __future__ import annotations

import math

import pandas as pd
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churndb.ingest.checks import read_number_array, read_numbers
from churndb.ingest.csvfile import CsvStream, Records, open_csv

FIELD = st.text(alphabet=st.sampled_from(list("ab1 2.,;\t-éx\u00a0\x1f")), max_size=6)


def _line(delimiter: str):
    return st.one_of(
        st.just(""),                                                       # blank line
        st.lists(FIELD.map(lambda f: f.replace(delimiter, "")), min_size=1, max_size=5).map(delimiter.join),
    )


def _both(path, size: int) -> tuple:
    stream = open_csv(path, delimiter="auto" if path.suffix == ".auto" else ",")
    python = CsvStream(stream.path, stream.sha256, stream.header, stream.delimiter, plain=False)
    width = len(stream.header)

    def flat(chunks: list[Records]) -> tuple:
        records = Records.concat(chunks, width)
        return (records.line_numbers.tolist(), records.raw.to_pylist(),
                [c.to_pylist() for c in records.columns], records.problems)

    arrow = list(stream.chunks(size))
    return stream.plain, flat(arrow), flat(list(python.chunks(size)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_line(","), min_size=1, max_size=30), crlf=st.booleans(), final_newline=st.booleans(),
       size=st.integers(1, 7))
def test_a_plain_file_reads_the_same_with_arrow_as_with_the_csv_module(tmp_path, lines, crlf, final_newline, size):
    end = "\r\n" if crlf else "\n"
    text = end.join(["id,x,y"] + lines) + (end if final_newline else "")
    path = tmp_path / "plain.csv"
    path.write_bytes(text.encode("utf-8"))
    if not any(line.strip() for line in lines):
        return  # no data row: both refuse the file (test_ingest_bad_input)
    plain, arrow, python = _both(path, size)
    assert plain
    assert arrow == python


def test_a_file_with_quotes_or_a_lone_carriage_return_is_read_by_the_csv_module(tmp_path):
    quoted = tmp_path / "quoted.csv"
    quoted.write_text('id,x\n1,"a, b"\n2,"line\nbreak"\n3,c\n', encoding="utf-8")
    stream = open_csv(quoted)
    assert not stream.plain
    records = Records.concat(list(stream.chunks(10)), 2)
    assert records.line_numbers.tolist() == [2, 3, 5]         # the quoted line break spans lines 3-4
    assert records.columns[1].to_pylist() == ["a, b", "line\nbreak", "c"]
    lone = tmp_path / "lone_cr.csv"
    lone.write_bytes(b"id,x\n1,a\r2,b\n")
    assert not open_csv(lone).plain


def test_a_huge_file_block_boundary_keeps_every_line(tmp_path, monkeypatch):
    from churndb.ingest import csvfile

    monkeypatch.setattr(csvfile, "PLAIN_BLOCK", 7)                # blocks cut lines and CRLF pairs apart
    path = tmp_path / "blocks.csv"
    path.write_bytes(b"id,x\r\n" + b"".join(b"%d,v%d\r\n" % (i, i) for i in range(1, 40)) + b"\r\n\r\n")
    plain, arrow, python = _both(path, 4)
    assert plain and arrow == python
    assert arrow[0] == list(range(2, 41))                      # trailing blank lines are not records


NUMBER = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10**20, 10**20).map(str),
    st.text(alphabet=st.sampled_from(list("0123456789.,-+eE$€ x")), max_size=12),
)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(NUMBER, min_size=1, max_size=20), decimal=st.sampled_from([".", ","]))
def test_arrow_reads_numbers_as_the_text_rules_do(values, decimal):
    values = [v.strip() for v in values]
    fast = read_number_array(pa.array(values, pa.string()), decimal)
    slow = read_numbers(pd.Series(values, dtype=object), decimal).to_numpy(dtype=float)
    for value, a, b in zip(values, fast, slow):
        assert (math.isnan(a) and math.isnan(b)) or a == b, (value, a, b)


def test_an_endless_line_is_refused_in_one_line(tmp_path, monkeypatch):
    import pytest

    from churndb.base.errors import InputError
    from churndb.ingest import csvfile

    monkeypatch.setattr(csvfile, "PLAIN_BLOCK", 64)
    monkeypatch.setattr(csvfile, "MAX_LINE", 1000)
    path = tmp_path / "endless.csv"
    path.write_bytes(b"id,x\n1,a\n2," + b"b" * 5000)
    with pytest.raises(InputError, match=r"line 3 is longer than"):
        list(open_csv(path).chunks(10))
