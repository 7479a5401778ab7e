"""The one batch/quarantine mechanism every loader uses.

A file is one ``ingest_batches`` row and one transaction: its valid rows are written by the loader,
its rejected records go to ``rejected_rows`` with raw text, line number and reason, and the batch
reconciles (rows_in = loaded + rejected, enforced by a CHECK).  The same file (by sha256) for the
same target and date again finds the existing batch and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from typing import Callable

import psycopg

from ..store import db
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


def load_batch(url: str, csv_file: CsvFile, *, target: str, as_of: dt.date | None, rows_loaded: int,
               rejections: list[Rejection], labels: int, details: dict,
               write: Callable[[psycopg.Connection, int], None], ignored_columns: list[str] = ()) -> IngestResult:
    """Record the batch, quarantine ``rejections`` and let ``write(conn, batch_id)`` store the valid
    rows, all in one transaction; a batch already loaded is returned as it is."""
    ignored = list(ignored_columns)
    as_of_text = as_of.isoformat() if as_of else None
    conn = db.connect(url)
    try:
        with conn.transaction():
            existing = conn.execute(SQL.query("find_batch"), {"sha256": csv_file.sha256, "target_table": target,
                                                             "as_of_date": as_of}).fetchone()
            if existing:
                batch_id, rows_in, loaded, rejected, labelled = existing
                return IngestResult(batch_id, rows_in, loaded, rejected, labelled, target, as_of_text,
                                    already_loaded=True, ignored_columns=ignored)
            batch_id = int(conn.execute(SQL.query("insert_batch"), {
                "source_file": str(csv_file.path), "sha256": csv_file.sha256, "target_table": target,
                "as_of_date": as_of, "rows_in": len(csv_file.records), "rows_loaded": rows_loaded,
                "rows_rejected": len(rejections), "labels_loaded": labels, "details": json.dumps(details),
            }).fetchone()[0])
            with conn.cursor() as cur, cur.copy(SQL.query("copy_rejected_rows")) as copy:
                for r in rejections:
                    copy.write_row((batch_id, r.line_number, r.customer_id, r.raw, r.reason))
            write(conn, batch_id)
    except psycopg.Error as exc:
        raise db.as_churndb_error(exc) from None
    finally:
        conn.close()
    return IngestResult(batch_id, len(csv_file.records), rows_loaded, len(rejections), labels, target, as_of_text,
                        ignored_columns=ignored)
