"""CRM exports of the latest published run: one CSV per segment of the run's policy, highest risk first.

File names as the original deployment wrote them: ``customer_risk_scores.csv`` (every customer with
attributes and scores) and ``<segment>_risk_customers.csv`` for each segment of the policy the run
was scored under (``critical_...``, ``high_...``, ... with the default policy).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from ..base.errors import ChurnDBError, UsageError
from ..model import telecom
from ..store import sources
from ..store.copy import copy_out_file
from ..store.sqlfiles import statements

SQL = statements(__name__)
ALL = "all"


@dataclass(frozen=True)
class PublishedRun:
    run_id: int
    model_version: int
    policy_version: int
    as_of_date: object
    started_at: object
    finished_at: object
    customers_scored: int
    targets: int
    campaign_id: str | None
    source: str = sources.TELECOM


def latest_run(conn: psycopg.Connection, source: str = sources.TELECOM) -> PublishedRun:
    """The latest published run of ``source``."""
    row = conn.execute(SQL.query("latest_published_run"), {"source": source}).fetchone()
    if not row:
        raise ChurnDBError("no published scoring run yet: run `churndb score` first" if source == sources.TELECOM
                           else f"no published scoring run of source {source} yet: run `churndb score --source "
                                f"{source}` first")
    return PublishedRun(*row, source=source)


def segments(conn: psycopg.Connection, run: PublishedRun) -> list[str]:
    """The run's segments, highest risk first, then ``all``."""
    return [r[0] for r in conn.execute(SQL.query("run_categories"), {"policy_version": run.policy_version})] + [ALL]


def file_name(segment: str) -> str:
    return "customer_risk_scores.csv" if segment == ALL else f"{segment}_risk_customers.csv"


def export_statement(conn: psycopg.Connection, run: PublishedRun) -> sql.Composable:
    """The run's export: the key and attribute columns of its layout under their own names (a source's
    file headers), then the scores."""
    layout = sources.require(conn, run.source)
    if layout.is_telecom:
        shown = [(c.name, c.name) for c in telecom.COLUMNS if c.kind != "id"]
    else:
        shown = [(c.column, c.header) for c in layout.columns
                 if c.role in ("feature", "value", "label", "identifier")]
    columns = sql.SQL(", ").join(sql.SQL("s.{} AS {}").format(sql.Identifier(column), sql.Identifier(header))
                                 for column, header in shown)
    return SQL.compose("export_run", key=sql.Identifier(layout.key_header or "customer_key"), columns=columns,
                       table=layout.table)


def export(conn: psycopg.Connection, run: PublishedRun, segment: str, out: Path) -> int:
    """Stream one segment of a run to CSV (COPY; flat memory); returns data rows written."""
    known = segments(conn, run)
    if segment not in known:
        raise UsageError(f"unknown segment {segment!r}: use one of {', '.join(known)}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        lines = copy_out_file(conn, export_statement(conn, run), {"run_id": run.run_id, "segment": segment}, out)
    except OSError as exc:
        raise ChurnDBError(f"cannot write {out}: {exc.strerror}") from None
    return max(lines - 1, 0)
