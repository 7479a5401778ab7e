"""COPY, the one way bulk rows move between pandas and PostgreSQL (CSV format, empty field = NULL)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pandas as pd
import psycopg
from psycopg import sql

COPY_CHUNK_ROWS = 100_000

Statement = str | sql.Composable


def copy_in(conn: psycopg.Connection, statement: Statement, frame: pd.DataFrame) -> None:
    """COPY ``frame`` (columns in the statement's order) into the table ``statement`` names.

    The CSV text is written by Arrow's C++ writer (ten times pandas' ``to_csv`` on scoring's rows);
    NaN / None / empty text are NULL, as they always were.  A frame Arrow cannot type (an object
    column mixing numbers and text) is written by pandas instead."""
    if frame.empty:
        return
    with conn.cursor() as cur, cur.copy(statement) as copy:
        for start in range(0, len(frame), COPY_CHUNK_ROWS):
            copy.write(csv_text(frame.iloc[start:start + COPY_CHUNK_ROWS]))


def csv_text(frame: pd.DataFrame) -> bytes:
    """Rows as PostgreSQL's CSV format reads them: no header, unquoted empty field = NULL."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pa_csv

    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return frame.to_csv(index=False, header=False, lineterminator="\n").encode("utf-8")
    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            column = pc.if_else(pc.equal(column, ""), pa.scalar(None, column.type), column)  # "" is NULL
        elif pa.types.is_null(column.type):
            column = column.cast(pa.string())
        columns.append(column)
    buf = io.BytesIO()
    pa_csv.write_csv(pa.table(columns, names=table.column_names), buf,
                     pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
    return buf.getvalue()


def copy_out(conn: psycopg.Connection, statement: Statement, params: dict | None = None,
             text_columns: list[str] = ()) -> pd.DataFrame:
    """The rows of a ``COPY (...) TO STDOUT WITH (FORMAT csv, HEADER)`` statement as a frame
    (empty frame for no rows); blanks are NULL, every other text is kept as written (``text_columns``
    are never read as numbers: a category "01" stays "01")."""
    buf = io.BytesIO()
    with conn.cursor() as cur, cur.copy(statement, params) as copy:
        for block in copy:
            buf.write(block)
    if buf.tell() == 0:
        return pd.DataFrame()
    buf.seek(0)
    return pd.read_csv(buf, keep_default_na=False, na_values=[""], low_memory=False,
                       dtype={c: str for c in text_columns} or None)


def private_file(path: Path, mode: str = "wb"):
    """Open ``path`` for writing, readable by its owner only (0600): exports and reports hold customers'
    personal data.  An existing file is truncated and made private too."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"}))


def copy_out_file(conn: psycopg.Connection, statement: Statement, params: dict, path: Path) -> int:
    """Stream a COPY ... TO STDOUT into ``path`` (flat memory, owner-only file); returns lines written."""
    lines = 0
    with private_file(path) as fh, conn.cursor() as cur, cur.copy(statement, params) as copy:
        for block in copy:
            fh.write(block)
            lines += bytes(block).count(b"\n")
    return lines
