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
    """COPY ``frame`` (columns in the statement's order) into the table ``statement`` names."""
    if frame.empty:
        return
    with conn.cursor() as cur, cur.copy(statement) as copy:
        for start in range(0, len(frame), COPY_CHUNK_ROWS):
            copy.write(frame.iloc[start:start + COPY_CHUNK_ROWS].to_csv(index=False, header=False,
                                                                        lineterminator="\n"))


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
