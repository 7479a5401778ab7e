"""Load a telecom-schema CSV as one point-in-time snapshot, atomically.

Every data record ends up either in ``customer_snapshots`` (and its label in ``churn_outcomes``) or
in ``rejected_rows`` with its raw text, line number and reason (``batch.load_batch``).  Loading the
same file for the same date again finds the existing batch and changes nothing.
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
from ..store.copy import copy_in
from ..store.sqlfiles import statements
from .batch import IngestResult, load_batch
from .checks import INT32_MAX, INT64_MAX, Checker, Rejection
from .csvfile import CsvFile, read_csv

SQL = statements(__name__)
SNAPSHOT_TABLE = "customer_snapshots"
# numeric(12,2) / numeric(14,2) columns: the largest magnitude PostgreSQL can store.
MONEY_LIMITS = {"monthly_charges": 1e10, "overage_charges": 1e10, "arpu": 1e10, "total_charges": 1e12}


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

    id_text = out["customer_id"].map(lambda v: None if pd.isna(v) else str(int(v)), na_action="ignore")
    check.reject_duplicates("customer_id", id_text, check.line_numbers)

    valid = out.loc[~check.rejected].copy()
    valid["customer_id"] = valid["customer_id"].astype(np.int64)
    known = {c.name for c in telecom.COLUMNS} | {telecom.LABEL}
    ignored = [h for h in csv_file.header if h not in known]
    return ValidatedFile(valid, check.rejections("customer_id"), len(csv_file.records), ignored)


def ingest_snapshot(url: str, path: Path, as_of: dt.date | None = None) -> IngestResult:
    """Load ``path`` as the snapshot of ``as_of`` (default: today, UTC)."""
    as_of = not_in_the_future(as_of, "the snapshot date") if as_of else today()
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

    def write(conn: psycopg.Connection, batch_id: int) -> None:
        staged = frame.copy()
        staged.insert(1, "as_of_date", as_of.isoformat())
        staged["batch_id"] = batch_id
        _write_ints(staged)
        conn.execute(SQL.query("create_snapshot_staging"))
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in staged.columns)
        copy_in(conn, SQL.compose("copy_snapshot_staging", columns=columns), staged)
        conn.execute(SQL.query("upsert_snapshots"))
        if labels:
            conn.execute(SQL.query("upsert_labels_from_snapshot"))

    return load_batch(url, csv_file, target=SNAPSHOT_TABLE, as_of=as_of, rows_loaded=len(frame),
                      rejections=checked.rejections, labels=labels,
                      details={"ignored_columns": checked.ignored_columns}, write=write,
                      ignored_columns=checked.ignored_columns)


def _write_ints(frame: pd.DataFrame) -> None:
    """Integer and flag columns as nullable ints so COPY sees '3', not '3.0'."""
    for col in telecom.COLUMNS:
        if col.kind in ("integer", "flag") and col.name in frame:
            frame[col.name] = frame[col.name].astype("Int64")
    if telecom.LABEL in frame:
        frame[telecom.LABEL] = frame[telecom.LABEL].astype("Int64")
