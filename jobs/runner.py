"""Run one job: never twice at once (anywhere), every invocation recorded in ``job_runs``.

A job first takes ``pg_try_advisory_lock`` on its name.  If another process
(on this machine or another) holds it, this invocation is recorded as
``skipped`` with who holds the lock, and returns.  Otherwise it records
``running``, runs, and records ``succeeded`` or ``failed`` with the error.  A
database that is briefly unreachable is retried with backoff before giving up.
"""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Callable

import psycopg

from churndb.base.errors import DatabaseError
from churndb.base.text import first_line
from churndb.store import db
from churndb.store.sqlfiles import statements

SQL = statements(__name__)

RETRY_DELAYS = (1, 2, 4, 8)


def connect_with_retry(url: str, delays=RETRY_DELAYS, log: Callable[[str], None] = lambda m: None):
    """Connect, retrying a briefly unavailable database with backoff; the last failure is raised."""
    for attempt, delay in enumerate((*delays, None)):
        try:
            return db.connect(url, autocommit=True, application="churndb-job")
        except DatabaseError as exc:
            if delay is None:
                raise
            log(f"database unavailable (attempt {attempt + 1}): {exc}; retrying in {delay}s")
            time.sleep(delay)


def run_job(url: str, name: str, work: Callable[[], dict], log: Callable[[str], None] = lambda m: None) -> dict:
    conn = connect_with_retry(url, log=log)
    host, pid = socket.gethostname(), os.getpid()
    try:
        conn.execute(SQL.query("fail_abandoned_jobs"))
        if not conn.execute(SQL.query("try_job_lock"), {"job": name}).fetchone()[0]:
            holder = conn.execute(SQL.query("job_lock_holder"), {"job": name}).fetchone()
            held_by = ({"backend_pid": holder[0], "application": holder[1], "client": holder[2],
                        "since": holder[3].isoformat(), "job_process": holder[4]} if holder else {})
            conn.execute(SQL.query("start_job_run"), {"job": name, "status": "skipped", "host": host, "pid": pid,
                                                  "details": json.dumps({"held_by": held_by})})
            return {"job": name, "status": "skipped", "held_by": held_by,
                    "message": f"{name} is already running ({held_by.get('job_process') or held_by.get('client')})"}
        job_run_id = conn.execute(SQL.query("start_job_run"), {"job": name, "status": "running", "host": host,
                                                           "pid": pid, "details": "{}"}).fetchone()[0]
        started = time.perf_counter()
        try:
            result = work()
        except BaseException as exc:
            message = db.scrub(first_line(exc), url)
            conn.execute(SQL.query("finish_job_run"), {"job_run_id": job_run_id, "status": "failed",
                                                   "error": message[:2000], "details": "{}"})
            raise
        outcome = result.pop("job_status", "succeeded")
        result = {**result, "seconds": round(time.perf_counter() - started, 3)}
        conn.execute(SQL.query("finish_job_run"), {"job_run_id": job_run_id, "status": "succeeded", "error": None,
                                               "details": json.dumps(result, default=str)})
        return {"job": name, "status": outcome, "job_run_id": job_run_id, **result}
    except psycopg.Error as exc:
        raise db.as_churndb_error(exc) from None
    finally:
        try:
            conn.execute(SQL.query("release_job_lock"), {"job": name})
        except psycopg.Error:
            pass
        conn.close()


