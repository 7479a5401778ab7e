"""Load a telecom-schema CSV as one point-in-time snapshot, atomically, streamed in chunks.

The file is scanned once (sha256, encoding, header: an unusable file is refused before anything is
written), then read ``CHUNK_ROWS`` records at a time: each chunk is checked, its valid rows COPYed to
a staging table and its other records quarantined, so memory stays flat however large the file.  A
customer id on more than one record is found across all chunks in SQL.  Every data record ends up
either in ``customer_snapshots`` (and its label in ``churn_outcomes``) or in ``rejected_rows`` with its
raw text, line number and reason (``batch.load_staged``).  The same file for the same date again
finds the existing batch and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from ..base import progress
from ..base.dates import not_in_the_future, today
from ..model import telecom
from ..store.sqlfiles import statements
from .batch import ChunkWriter, IngestResult, Staged, load_staged, quarantine_duplicates
from .checks import INT32_MAX, INT64_MAX, Checker, Rejection
from .csvfile import CsvFile, open_csv

SQL = statements(__name__)
SNAPSHOT_TABLE = "customer_snapshots"
# numeric(12,2) / numeric(14,2) columns: the largest magnitude PostgreSQL can store.
MONEY_LIMITS = {"monthly_charges": 1e10, "overage_charges": 1e10, "arpu": 1e10, "total_charges": 1e12}


CHUNK_ROWS = 100_000  # records checked and staged at a time: memory stays flat in the file's size


@dataclass(frozen=True)
class CheckedChunk:
    """One chunk of records: its valid rows (typed, with their line numbers) and its quarantined ones."""
    frame: pd.DataFrame
    rejections: list[Rejection]


def check_chunk(csv_file: CsvFile) -> CheckedChunk:
    """Check every record of a chunk against the telecom layout; nothing is dropped silently.  A customer
    id seen twice is found across the whole file once every chunk is staged (``quarantine_duplicates``)."""
    check = Checker(csv_file)
    out = pd.DataFrame(index=check.index)
    for col in telecom.COLUMNS:
        if col.kind == "id":
            out[col.name] = check.parse_number(col.name, low=1, integer=True, required=True, limit=INT64_MAX)
        elif col.kind == "category":
            out[col.name] = check.parse_category(col.name, col.allowed)
        elif col.kind == "flag":
            out[col.name] = check.parse_flag(col.name)
        else:
            limit = MONEY_LIMITS.get(col.name, INT32_MAX if col.kind == "integer" else None)
            out[col.name] = check.parse_number(col.name, col.low, col.high, integer=col.kind == "integer", limit=limit)
    for small, large, message in telecom.CONSISTENCY:
        both = out[small].notna() & out[large].notna()
        check.reject((both & (out[small] > out[large])).to_numpy(), message)
    if telecom.LABEL in check.header:
        out[telecom.LABEL] = check.parse_flag(telecom.LABEL)
    keys = out["customer_id"].map(lambda v: None if pd.isna(v) else str(int(v)), na_action="ignore")
    bad = check.rejected
    valid = out.loc[~bad].copy()
    valid["customer_id"] = valid["customer_id"].astype(np.int64)
    valid["line_number"] = np.asarray(check.line_numbers)[~bad]
    return CheckedChunk(valid, check.rejections("customer_id", keys))


def ingest_snapshot(url: str, path: Path, as_of: dt.date | None = None, chunk_rows: int = CHUNK_ROWS) -> IngestResult:
    """Load ``path`` as the snapshot of ``as_of`` (default: today, UTC), streamed in chunks."""
    as_of = not_in_the_future(as_of, "the snapshot date") if as_of else today()
    stream = open_csv(Path(path), required=tuple(c.name for c in telecom.COLUMNS))
    known = {c.name for c in telecom.COLUMNS} | {telecom.LABEL}
    ignored = [h for h in stream.header if h not in known]

    def stage(conn: psycopg.Connection) -> Staged:
        conn.execute(SQL.query("create_snapshot_staging"))
        rows_in = 0
        with progress.bar(None, f"ingest {stream.path.name}") as bar, ChunkWriter(conn) as writer:
            for records in stream.chunks(chunk_rows):
                checked = check_chunk(CsvFile(stream.path, stream.sha256, stream.header, records))
                staged = checked.frame
                staged.insert(1, "as_of_date", as_of.isoformat())
                _write_ints(staged)
                columns = sql.SQL(", ").join(sql.Identifier(c) for c in staged.columns)
                writer.write(checked.rejections, SQL.compose("copy_snapshot_staging", columns=columns), staged)
                rows_in += len(records)
                bar.update(len(records))
        quarantine_duplicates(conn, stream, "snapshot_staging", key="s.customer_id::text",
                              shown="s.customer_id::text", name="customer_id")
        loaded, labels = conn.execute(SQL.query("staged_counts")).fetchone()
        return Staged(rows_in, loaded, labels)

    def publish(conn: psycopg.Connection, batch_id: int) -> None:
        conn.execute(SQL.query("lock_snapshot_date"), {"as_of_date": as_of})
        loaded = conn.execute(SQL.query("snapshot_date_loaded"), {"as_of_date": as_of}).fetchone()[0]
        on_conflict = sql.SQL(SQL.query("snapshot_conflict")) if loaded else sql.SQL("")
        conn.execute(SQL.compose("insert_snapshots", on_conflict=on_conflict), {"batch_id": batch_id})
        conn.execute(SQL.query("upsert_labels_from_snapshot"), {"batch_id": batch_id})

    return load_staged(url, source=stream.path, sha256=stream.sha256, target=SNAPSHOT_TABLE, as_of=as_of,
                       details={"ignored_columns": ignored}, stage=stage, publish=publish, ignored_columns=ignored)


def _write_ints(frame: pd.DataFrame) -> None:
    """Integer and flag columns as nullable ints so COPY sees '3', not '3.0'."""
    for col in telecom.COLUMNS:
        if col.kind in ("integer", "flag") and col.name in frame:
            frame[col.name] = frame[col.name].astype("Int64")
    if telecom.LABEL in frame:
        frame[telecom.LABEL] = frame[telecom.LABEL].astype("Int64")
