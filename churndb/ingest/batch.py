"""The one batch/quarantine mechanism every loader uses.

A file is one ``ingest_batches`` row and one transaction: its valid rows are written by the loader,
its rejected records go to ``rejected_rows`` with raw text, line number and reason, and the batch
reconciles (rows_in = loaded + rejected, enforced by a CHECK).  The same file (by sha256) for the
same target and date again finds the existing batch and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd
import psycopg
from psycopg import sql

from ..store import db
from ..store.copy import copy_in
from ..store.sqlfiles import statements
from .checks import Rejection
from .csvfile import CsvFile

SQL = statements(__name__)


@dataclass(frozen=True)
class IngestResult:
    batch_id: int
    rows_in: int
    rows_loaded: int
    rows_rejected: int
    labels_loaded: int
    table: str
    as_of_date: str | None
    already_loaded: bool = False
    ignored_columns: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Staged:
    """What a loader's ``stage`` step put aside: records read, rows staged for loading, labels among them."""
    rows_in: int
    rows_loaded: int
    labels: int


def quarantine(conn: psycopg.Connection, rejections: list[Rejection]) -> None:
    """Add records to the batch's quarantine (inside ``load_staged``'s ``stage``)."""
    with conn.cursor() as cur, cur.copy(SQL.query("copy_batch_rejections")) as copy:
        for r in rejections:
            copy.write_row((r.line_number, r.customer_id, r.key, r.raw, r.reason))


class ChunkWriter:
    """Writes checked chunks (quarantined records, staged rows) while the loader checks the next one.

    The server's COPY work for chunk k overlaps the checks of chunk k+1: one chunk in flight at most, so
    memory stays at two chunks.  Used as a context manager inside ``stage``; leaving it waits for the
    last chunk, and a failed write is raised there (or at the next ``write``), never lost."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="churndb-ingest-copy")
        self._pending: Future | None = None

    def write(self, rejections: list[Rejection], statement, frame: pd.DataFrame) -> None:
        self._wait()
        self._pending = self._pool.submit(self._write, rejections, statement, frame)

    def _write(self, rejections: list[Rejection], statement, frame: pd.DataFrame) -> None:
        quarantine(self.conn, rejections)
        copy_in(self.conn, statement, frame)

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def __enter__(self) -> "ChunkWriter":
        return self

    def __exit__(self, *exc) -> None:
        try:
            if exc[0] is None:
                self._wait()
            elif self._pending is not None:
                self._pending.exception()  # let the write in flight end before the transaction is rolled back
        finally:
            self._pool.shutdown(wait=True)


def quarantine_duplicates(conn: psycopg.Connection, stream, staging: str, key: str, shown: str, name: str) -> None:
    """Every copy of a customer key that appears on more than one record, across all chunks, is
    quarantined with the lines it appears on; the raw text of the copies that were staged is read
    again from the file (``stream``).  ``staging`` (a temporary table), ``key`` (an expression over
    its alias ``s``: the normalised key, as rejections carry it) and ``shown`` (the key as written)
    come from code, never from a file; ``name``, how the reason names the key column, is a parameter."""
    parts = {"staging": sql.Identifier(staging), "key": sql.SQL(key), "shown": sql.SQL(shown)}
    conn.execute(SQL.compose("find_duplicates", **parts))
    conn.execute(SQL.query("mark_rejected_duplicates"), {"name": name})
    moved = {r[0] for r in conn.execute(SQL.compose("quarantine_staged_duplicates", **parts), {"name": name})}
    if moved:
        raw = stream.records_at(moved)
        with conn.cursor() as cur:
            cur.executemany(SQL.query("fill_raw_line"), [{"raw": raw.get(n, ""), "line_number": n} for n in moved])


def load_staged(url: str, *, source: Path, sha256: str, target: str, as_of: dt.date | None, details: dict,
                stage: Callable[[psycopg.Connection], Staged], publish: Callable[[psycopg.Connection, int], None],
                ignored_columns: list[str] = ()) -> IngestResult:
    """One batch in one transaction: ``stage(conn)`` stages the valid rows and quarantines the others
    (``quarantine``, possibly chunk by chunk), then the batch row is written with the reconciled counts,
    the quarantined records move to ``rejected_rows`` and ``publish(conn, batch_id)`` stores the rows.
    The same file (sha256) for the same target and date again returns the existing batch, untouched."""
    ignored = list(ignored_columns)
    as_of_text = as_of.isoformat() if as_of else None
    conn = db.connect(url)
    try:
        with conn.transaction():
            existing = conn.execute(SQL.query("find_batch"), {"sha256": sha256, "target_table": target,
                                                             "as_of_date": as_of}).fetchone()
            if existing:
                batch_id, rows_in, loaded, rejected, labelled = existing
                return IngestResult(batch_id, rows_in, loaded, rejected, labelled, target, as_of_text,
                                    already_loaded=True, ignored_columns=ignored)
            conn.execute(SQL.query("create_batch_rejections"))
            staged = stage(conn)
            rejected = conn.execute(SQL.query("count_batch_rejections")).fetchone()[0]
            batch_id = int(conn.execute(SQL.query("insert_batch"), {
                "source_file": str(source), "sha256": sha256, "target_table": target, "as_of_date": as_of,
                "rows_in": staged.rows_in, "rows_loaded": staged.rows_loaded, "rows_rejected": rejected,
                "labels_loaded": staged.labels, "details": json.dumps(details),
            }).fetchone()[0])
            conn.execute(SQL.query("move_rejections"), {"batch_id": batch_id})
            publish(conn, batch_id)
    except psycopg.Error as exc:
        raise db.as_churndb_error(exc) from None
    finally:
        conn.close()
    return IngestResult(batch_id, staged.rows_in, staged.rows_loaded, rejected, staged.labels, target, as_of_text,
                        ignored_columns=ignored)


def load_batch(url: str, csv_file: CsvFile, *, target: str, as_of: dt.date | None, rows_loaded: int,
               rejections: list[Rejection], labels: int, details: dict,
               write: Callable[[psycopg.Connection, int], None], ignored_columns: list[str] = ()) -> IngestResult:
    """``load_staged`` for a file held whole: its rejections are known, ``write(conn, batch_id)`` stores the
    valid rows."""
    def stage(conn: psycopg.Connection) -> Staged:
        quarantine(conn, rejections)
        return Staged(len(csv_file.records), rows_loaded, labels)

    return load_staged(url, source=csv_file.path, sha256=csv_file.sha256, target=target, as_of=as_of,
                       details=details, stage=stage, publish=write, ignored_columns=ignored_columns)
