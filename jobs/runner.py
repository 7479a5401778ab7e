"""Run one job: never twice at once (anywhere), every invocation recorded in ``job_runs``.

A job first takes ``pg_try_advisory_lock`` on its name, twice, on two connections (``JobLock``).
If another process (on this machine or another) holds it, this invocation is recorded as
``skipped`` with who holds the lock, and returns.  Otherwise it records
``running``, runs, and records ``succeeded`` or ``failed`` with the error.  A
database that is briefly unreachable is retried with backoff before giving up.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from typing import Callable

import psycopg

from churndb.base.errors import DatabaseError
from churndb.base.text import first_line
from churndb.store import db
from churndb.store.sqlfiles import statements

SQL = statements(__name__)

RETRY_DELAYS = (1, 2, 4, 8)


def connect_with_retry(url: str, delays=RETRY_DELAYS, log: Callable[[str], None] = lambda m: None,
                       application: str = "churndb-job"):
    """Connect, retrying a briefly unavailable database with backoff; the last failure is raised."""
    for attempt, delay in enumerate((*delays, None)):
        try:
            return db.connect(url, autocommit=True, application=application)
        except DatabaseError as exc:
            if delay is None:
                raise
            log(f"database unavailable (attempt {attempt + 1}): {exc}; retrying in {delay}s")
            time.sleep(delay)


LOCK_SPACES = (7302, 7304)  # the two advisory locks of a running job, each on its own connection


class JobLock:
    """A job's lock, held twice: key (7302, job) on one connection and (7304, job) on another.

    A second instance must take both to run, so a single dropped connection (a restarted proxy, an idle
    timeout) does not free the job: a keeper thread checks both connections every
    ``CHURNDB_JOB_LOCK_CHECK`` seconds (default 5) and re-takes a lost lock on a new connection."""

    def __init__(self, url: str, name: str, log: Callable[[str], None]):
        self.url, self.name, self.log = url, name, log
        self.conns: list[psycopg.Connection | None] = [None, None]
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None
        self._spare: list[psycopg.Connection] = []

    def acquire(self, first: psycopg.Connection) -> bool:
        self.conns[0] = first
        if not self._take(0):
            return False
        self.conns[1] = connect_with_retry(self.url, log=self.log, application="churndb-job-lock2")
        if not self._take(1):
            first.execute(SQL.query("release_job_lock"), {"space": LOCK_SPACES[0], "job": self.name})
            return False
        interval = float(os.environ.get("CHURNDB_JOB_LOCK_CHECK", "5"))
        self._keeper = threading.Thread(target=self._keep, args=(interval,), daemon=True,
                                        name=f"churndb-job-lock-{self.name}")
        self._keeper.start()
        return True

    def _take(self, i: int) -> bool:
        return bool(self.conns[i].execute(SQL.query("try_job_lock"),
                                          {"space": LOCK_SPACES[i], "job": self.name}).fetchone()[0])

    def _keep(self, interval: float) -> None:
        while not self._stop.wait(interval):
            for i in (0, 1):
                try:
                    self.conns[i].execute(SQL.query("lock_alive"))
                except psycopg.Error:
                    self._retake(i)

    def _retake(self, i: int) -> None:
        try:
            self.conns[i] = db.connect(self.url, autocommit=True, application="churndb-job")
            if not self._take(i):
                self.log(f"job {self.name}: lost one of its locks and another process holds it now")
        except (DatabaseError, psycopg.Error):
            pass  # the database is away: the next check tries again

    def connection(self) -> psycopg.Connection:
        """A live connection for the job's own bookkeeping."""
        for conn in self.conns:
            if conn is not None and not conn.closed:
                try:
                    conn.execute(SQL.query("lock_alive"))
                    return conn
                except psycopg.Error:
                    continue
        spare = connect_with_retry(self.url, log=self.log)
        self._spare.append(spare)
        return spare

    def release(self) -> None:
        self._stop.set()
        if self._keeper is not None:
            self._keeper.join(10)
        for i, conn in enumerate(self.conns):
            if conn is None:
                continue
            try:
                conn.execute(SQL.query("release_job_lock"), {"space": LOCK_SPACES[i], "job": self.name})
            except psycopg.Error:
                pass
            conn.close()
        for conn in self._spare:
            conn.close()


def run_job(url: str, name: str, work: Callable[[], dict], log: Callable[[str], None] = lambda m: None) -> dict:
    conn = connect_with_retry(url, log=log)
    lock = JobLock(url, name, log)
    host, pid = socket.gethostname(), os.getpid()
    try:
        conn.execute(SQL.query("fail_abandoned_jobs"))
        if not lock.acquire(conn):
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
            lock.connection().execute(SQL.query("finish_job_run"), {"job_run_id": job_run_id, "status": "failed",
                                                                   "error": message[:2000], "details": "{}"})
            raise
        outcome = result.pop("job_status", "succeeded")
        result = {**result, "seconds": round(time.perf_counter() - started, 3)}
        lock.connection().execute(SQL.query("finish_job_run"), {"job_run_id": job_run_id, "status": "succeeded",
                                                               "error": None,
                                                               "details": json.dumps(result, default=str)})
        return {"job": name, "status": outcome, "job_run_id": job_run_id, **result}
    except psycopg.Error as exc:
        raise db.as_churndb_error(exc) from None
    finally:
        lock.release()
        if not conn.closed:
            conn.close()
