"""Scoring-run state in ``scoring_runs``: the one place a run is started, failed or marked succeeded.

A run holds the advisory lock (7301, run_id) on its control connection for as long as its process
lives; a 'running' run whose lock nobody holds was killed, and the next run marks it failed
(``fail_abandoned``).  ``score_history`` partitions are created here too, before a run's long
transaction, because creating one locks the parent table.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket

import psycopg

from ..base.errors import ChurnDBError
from .sqlfiles import statements

SQL = statements(__name__)


def fail_abandoned(conn: psycopg.Connection) -> list[int]:
    """Mark runs whose process is gone failed and drop their staged rows; returns their ids."""
    abandoned = [r[0] for r in conn.execute(SQL.query("fail_abandoned_runs")).fetchall()]
    conn.execute(SQL.query("drop_abandoned_staging"))
    return abandoned


def start(conn: psycopg.Connection, *, model_version: int, policy_version: int, as_of: dt.date, source: str,
          campaign: str, shadow: bool, executor: str) -> tuple[int, dt.datetime]:
    """Record a 'running' run and take its advisory lock on ``conn``; returns (run_id, started_at).

    Both in one transaction: the row becomes visible to others only when its lock is already held,
    so a concurrent ``fail_abandoned`` can never take a starting run for an abandoned one."""
    with conn.transaction():
        run_id, started_at = conn.execute(SQL.query("start_run"), {
            "model_version": model_version, "policy_version": policy_version, "as_of_date": as_of,
            "source": source, "campaign_id": campaign, "is_shadow": shadow, "host": socket.gethostname(),
            "pid": os.getpid(), "executor": executor}).fetchone()
        conn.execute(SQL.query("hold_run_lock"), {"run_id": run_id})  # session lock: outlives the transaction
    return run_id, started_at


def ensure_history_partition(conn: psycopg.Connection, at: dt.datetime) -> None:
    """The monthly ``score_history`` partition holding ``at`` exists afterwards."""
    conn.execute(SQL.query("ensure_partition"), {"at": at})


def set_partitions(conn: psycopg.Connection, run_id: int, partitions: int) -> None:
    conn.execute(SQL.query("set_run_partitions"), {"run_id": run_id, "partitions": partitions})


def fail(conn: psycopg.Connection, run_id: int, error: str, stage_seconds: dict) -> None:
    conn.execute(SQL.query("fail_run"), {"run_id": run_id, "error": error[:1000],
                                         "stage_seconds": json.dumps(stage_seconds)})


def succeed(conn: psycopg.Connection, run_id: int, *, customers: int, targets: int, partitions: int | None,
            stage_seconds: dict, summary: dict) -> None:
    """Inside the run's publish transaction: the run becomes visible with everything it wrote.  A run
    that is no longer 'running' (marked failed meanwhile) is not flipped back: the publish fails whole."""
    done = conn.execute(SQL.query("succeed_run"), {"run_id": run_id, "customers": customers, "targets": targets,
                                                   "partitions": partitions,
                                                   "stage_seconds": json.dumps(stage_seconds),
                                                   "summary": json.dumps(summary)}).fetchone()
    if done is None:
        raise ChurnDBError(f"run {run_id} was marked failed while it was scoring; nothing was published")
