"""Score-history growth: monthly partitions created ahead, old ones archived.

``score_history`` is range-partitioned by month of ``scored_at``.  The
maintenance job (``churndb history`` / the ``history`` scheduled job):

* creates the partitions of this month and the next ``months_ahead`` months,
  so a scoring run never has to create one (which locks the parent table);
* with ``retain_months`` set, detaches every partition that ends on or before
  the first day of the month ``retain_months`` before this one and moves it to
  schema ``churndb_archive`` (rows kept, still readable by churn_auditor,
  logged in ``history_archive``, still append-only).  Newer partitions are not touched, and the
  views over ``score_history`` keep working; they no longer see archived rows.

Each month is partitioned by run (migration 0010): a run's rows are one table, attached when the run
publishes, and archived with its month.

Detaching takes a short exclusive lock on ``score_history``.  Maintenance
waits at most ``lock_wait`` for it (a publishing run holds the table for a
while) and then leaves that partition for the next maintenance run.

Settings: ``[history] months_ahead`` (default 3), ``retain_months`` (default:
keep everything), ``lock_wait`` (default "5s").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg
from psycopg import sql

from ..base.config import Settings
from ..base.errors import ChurnDBError
from ..store import db, run_state
from ..store.sqlfiles import statements

SQL = statements(__name__)

DEFAULT_MONTHS_AHEAD = 3
ARCHIVE_SCHEMA = "churndb_archive"


@dataclass(frozen=True)
class Partition:
    name: str
    range_from: dt.datetime
    range_to: dt.datetime


def month_start(day: dt.date, months: int = 0) -> dt.date:
    """The first day of the month ``months`` after (or before, if negative) ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def partitions(conn: psycopg.Connection) -> list[Partition]:
    """The attached monthly partitions of score_history, oldest first (the default partition is not listed)."""
    return [Partition(*row) for row in conn.execute(SQL.query("history_partitions")).fetchall()]


def maintain(url: str, settings: Settings, today: dt.date | None = None, months_ahead: int | None = None,
             retain_months: int | None = None) -> dict:
    today = today or dt.datetime.now(dt.timezone.utc).date()
    if months_ahead is None:
        months_ahead = settings.get("history", "months_ahead", int, DEFAULT_MONTHS_AHEAD)
    if retain_months is None:
        retain_months = settings.get("history", "retain_months", int)
    if months_ahead < 0 or (retain_months is not None and retain_months < 1):
        raise ChurnDBError("history: months_ahead must be >= 0 and retain_months >= 1")
    lock_wait = settings.get("history", "lock_wait", str, "5s")
    conn = db.connect(url, autocommit=True, application="churndb-history")
    try:
        before = {p.name for p in partitions(conn)}
        for m in range(months_ahead + 1):
            at = dt.datetime.combine(month_start(today, m), dt.time(), dt.timezone.utc)
            run_state.ensure_history_partition(conn, at)
        current = partitions(conn)
        created = sorted({p.name for p in current} - before)
        archived, busy = [], []
        if retain_months is not None:
            cutoff = dt.datetime.combine(month_start(today, -retain_months), dt.time(), dt.timezone.utc)
            for p in current:
                if p.range_to <= cutoff:
                    (archived if _archive(conn, p, lock_wait) else busy).append(p.name)
        return {"created": created, "archived": archived, "busy": busy,
                "partitions": [p.name for p in partitions(conn)], "retain_months": retain_months,
                "months_ahead": months_ahead}
    except psycopg.Error as exc:
        raise db.as_churndb_error(exc) from None
    finally:
        conn.close()


def _archive(conn: psycopg.Connection, p: Partition, lock_wait: str) -> bool:
    """Detach one partition into the archive schema; False if the table stayed busy past ``lock_wait``."""
    table = sql.Identifier("churndb", p.name)
    try:
        with conn.transaction():
            conn.execute(SQL.query("set_local_lock_timeout"), {"wait": lock_wait})
            rows = conn.execute(SQL.compose("count_partition_rows", partition=table)).fetchone()[0]
            conn.execute(SQL.compose("detach_history_partition", partition=table))
            runs = [r[0] for r in conn.execute(SQL.query("runs_of_month"), {"month": p.name}).fetchall()]
            archive = sql.Identifier(ARCHIVE_SCHEMA)
            for name in [p.name, *runs]:  # the month and its runs' tables, together
                conn.execute(SQL.compose("move_to_archive", partition=sql.Identifier("churndb", name), archive=archive))
                conn.execute(SQL.compose("grant_archive_to_auditor", archived=sql.Identifier(ARCHIVE_SCHEMA, name)))
            conn.execute(SQL.compose("archive_read_only", archived=sql.Identifier(ARCHIVE_SCHEMA, p.name)))
            conn.execute(SQL.query("log_archived_partition"), {
                "name": p.name, "range_from": p.range_from, "range_to": p.range_to, "rows": rows,
                "archived_to": f"{ARCHIVE_SCHEMA}.{p.name}"})
        return True
    except psycopg.errors.LockNotAvailable:
        return False
