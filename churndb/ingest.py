"""Load a telecom-schema CSV as one point-in-time snapshot, atomically.

Every data record ends up either in ``customer_snapshots`` (and its label in
``churn_outcomes``) or in ``rejected_rows`` with its raw text, line number and
reason; the ``ingest_batches`` row reconciles the counts (rows_in = loaded +
rejected, enforced by a CHECK).  The whole batch is one transaction: a crash
leaves all of it or none.  Loading the same file for the same date again finds
the existing batch and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from . import db, progress, telecom
from .csvfile import CsvFile, read_csv
from .errors import InputError
from .sqlfiles import compose, query
from .validate import INT32_MAX, INT64_MAX, Checker

SNAPSHOT_TABLE = "customer_snapshots"
# numeric(12,2) / numeric(14,2) columns: the largest magnitude PostgreSQL can store.
MONEY_LIMITS = {"monthly_charges": 1e10, "overage_charges": 1e10, "arpu": 1e10, "total_charges": 1e12}
COPY_CHUNK_ROWS = 100_000


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
class Rejection:
    line_number: int
    customer_id: str | None
    raw: str
    reason: str


@dataclass(frozen=True)
class ValidatedFile:
    """Typed valid rows plus the quarantined ones; ``rows_in`` counts both."""
    frame: pd.DataFrame
    rejections: list[Rejection]
    rows_in: int
    ignored_columns: list[str]


def validate_telecom(csv_file: CsvFile) -> ValidatedFile:
    """Check every record against the telecom layout; nothing is dropped silently."""
    check = Checker(csv_file)
    out = pd.DataFrame(index=check.frame.index)
    for col in telecom.COLUMNS:
        if col.kind == "id":
            ids = check.parse_number(col.name, low=1, integer=True, required=True, limit=INT64_MAX)
            out[col.name] = ids
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

    line_numbers = [r.line_number for r in csv_file.records]
    id_text = out["customer_id"].map(lambda v: None if pd.isna(v) else str(int(v)), na_action="ignore")
    check.reject_duplicates("customer_id", id_text, line_numbers)

    bad = check.rejected
    rejections = [
        Rejection(rec.line_number, check.frame["customer_id"].iat[i] or None, rec.raw, check.reason_text(i))
        for i, rec in enumerate(csv_file.records) if bad[i]
    ]
    valid = out.loc[~bad].copy()
    valid["customer_id"] = valid["customer_id"].astype(np.int64)
    known = {c.name for c in telecom.COLUMNS} | {telecom.LABEL}
    ignored = [h for h in csv_file.header if h not in known]
    return ValidatedFile(valid, rejections, len(csv_file.records), ignored)


def _copy_frame(cur: psycopg.Cursor, statement: sql.Composable, frame: pd.DataFrame) -> None:
    """COPY a frame as CSV in chunks (empty field = NULL)."""
    with cur.copy(statement) as copy:
        for start in range(0, len(frame), COPY_CHUNK_ROWS):
            buf = io.StringIO()
            frame.iloc[start:start + COPY_CHUNK_ROWS].to_csv(buf, index=False, header=False, lineterminator="\n")
            copy.write(buf.getvalue())


def copy_rejections(cur: psycopg.Cursor, batch_id: int, rejections: list[Rejection]) -> None:
    with cur.copy(query("copy_rejected_rows")) as copy:
        for r in rejections:
            copy.write_row((batch_id, r.line_number, r.customer_id, r.raw, r.reason))


def find_existing_batch(conn: psycopg.Connection, sha256: str, table: str, as_of: dt.date | None):
    return conn.execute(
        query("find_batch"), {"sha256": sha256, "target_table": table, "as_of_date": as_of}
    ).fetchone()


def insert_batch(conn: psycopg.Connection, csv_file: CsvFile, table: str, as_of: dt.date | None,
                 rows_in: int, rows_loaded: int, rows_rejected: int, labels: int, details: dict) -> int:
    row = conn.execute(query("insert_batch"), {
        "source_file": str(csv_file.path), "sha256": csv_file.sha256, "target_table": table,
        "as_of_date": as_of, "rows_in": rows_in, "rows_loaded": rows_loaded,
        "rows_rejected": rows_rejected, "labels_loaded": labels, "details": json.dumps(details),
    }).fetchone()
    return int(row[0])


def ingest_snapshot(url: str, path: Path, as_of: dt.date | None = None) -> IngestResult:
    """Load ``path`` as the snapshot of ``as_of`` (default: today, UTC)."""
    as_of = as_of or dt.datetime.now(dt.timezone.utc).date()
    required = tuple(c.name for c in telecom.COLUMNS)
    with progress.bar(3, f"ingest {Path(path).name}", unit="steps") as bar:
        bar.set_description("reading")
        csv_file = read_csv(Path(path), required=required)
        bar.update(1)
        bar.set_description(f"validating {len(csv_file.records):,} rows")
        checked = validate_telecom(csv_file)
        bar.update(1)
        bar.set_description("loading")
        result = _load_snapshot(url, csv_file, checked, as_of)
        bar.update(1)
    return result


def _load_snapshot(url: str, csv_file: CsvFile, checked: ValidatedFile, as_of: dt.date) -> IngestResult:
    frame = checked.frame
    labels = int(frame[telecom.LABEL].notna().sum()) if telecom.LABEL in frame else 0

    conn = db.connect(url)
    try:
        with conn.transaction():
            existing = find_existing_batch(conn, csv_file.sha256, SNAPSHOT_TABLE, as_of)
            if existing:
                batch_id, rows_in, loaded, rejected, labelled = existing
                return IngestResult(batch_id, rows_in, loaded, rejected, labelled, SNAPSHOT_TABLE,
                                    as_of.isoformat(), already_loaded=True, ignored_columns=checked.ignored_columns)
            batch_id = insert_batch(conn, csv_file, SNAPSHOT_TABLE, as_of, checked.rows_in, len(frame),
                                    len(checked.rejections), labels, {"ignored_columns": checked.ignored_columns})
            with conn.cursor() as cur:
                copy_rejections(cur, batch_id, checked.rejections)
                staged = frame.copy()
                staged.insert(1, "as_of_date", as_of.isoformat())
                staged["batch_id"] = batch_id
                _write_ints(staged)
                cur.execute(query("create_snapshot_staging"))
                columns = sql.SQL(", ").join(sql.Identifier(c) for c in staged.columns)
                _copy_frame(cur, compose("copy_snapshot_staging", columns=columns), staged)
                cur.execute(query("upsert_snapshots"))
                if labels:
                    cur.execute(query("upsert_labels_from_snapshot"))
    except psycopg.Error as exc:
        raise db.as_churndb_error(exc) from None
    finally:
        conn.close()
    return IngestResult(batch_id, checked.rows_in, len(frame), len(checked.rejections), labels, SNAPSHOT_TABLE,
                        as_of.isoformat(), ignored_columns=checked.ignored_columns)


def _write_ints(frame: pd.DataFrame) -> None:
    """Integer and flag columns as nullable ints so COPY sees '3', not '3.0'."""
    for col in telecom.COLUMNS:
        if col.kind in ("integer", "flag") and col.name in frame:
            frame[col.name] = frame[col.name].astype("Int64")
    if telecom.LABEL in frame:
        frame[telecom.LABEL] = frame[telecom.LABEL].astype("Int64")


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"--as-of {text!r} is not a date (use YYYY-MM-DD)") from None
