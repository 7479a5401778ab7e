"""``churndb scheduler``: the jobs on their schedules, in the foreground (APScheduler 3).

Schedules come from ``[schedule]`` in the config file or ``CHURNDB_SCHEDULE_<JOB>``,
each a crontab string (``"0 2 * * *"``), ``"every <N><s|m|h|d>"`` or ``"off"``.
Defaults: score daily 02:00, monitor Mondays 06:00, retrain on the first day of
January, April, July and October at 03:00, ingest_feed daily 01:00, outcomes
daily 05:00, history (partitions ahead, retention) daily 00:30.  Missed runs
are coalesced into one (never run twice to catch up); a job never overlaps itself (here: max_instances=1; across machines: its
advisory lock).  A failing job is recorded and the scheduler carries on.
SIGTERM / SIGINT: no new jobs start; a running job finishes; exit 0.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
from typing import Callable

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from churndb.base.config import Settings
from churndb.base.errors import ChurnDBError
from churndb.base.text import first_line

from .catalog import JOBS, run_now

DEFAULT_SCHEDULES = {
    "ingest_feed": "0 1 * * *",
    "score": "0 2 * * *",
    "outcomes": "0 5 * * *",
    "monitor": "0 6 * * mon",
    "retrain": "0 3 1 1,4,7,10 *",
    "history": "30 0 * * *",
}
EVERY = re.compile(r"^every\s+(\d+)\s*([smhd])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def trigger(text: str):
    """A crontab string or 'every <N><unit>' -> an APScheduler trigger (ChurnDBError if neither)."""
    text = text.strip()
    match = EVERY.match(text)
    if match:
        return IntervalTrigger(**{UNITS[match.group(2)]: int(match.group(1))})
    try:
        return CronTrigger.from_crontab(text)
    except ValueError as exc:
        raise ChurnDBError(f"schedule {text!r} is neither a crontab string nor 'every <N><s|m|h|d>': {exc}") from None


def schedules(settings: Settings) -> dict[str, str]:
    configured = {k: str(v) for k, v in settings.section("schedule").items()}
    out = {}
    for name, default in DEFAULT_SCHEDULES.items():
        value = os.environ.get(f"CHURNDB_SCHEDULE_{name.upper()}") or configured.get(name) or default
        if value.strip().lower() != "off":
            out[name] = value
    unknown = set(configured) - set(JOBS)
    if unknown:
        raise ChurnDBError(f"[schedule] names unknown job(s) {', '.join(sorted(unknown))}; jobs: {', '.join(JOBS)}")
    return out


def serve(url: str, settings: Settings, log: Callable[[str], None]) -> dict:
    plan = {name: trigger(text) for name, text in schedules(settings).items()}
    scheduler = BlockingScheduler(job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600})
    runs = {"succeeded": 0, "failed": 0, "skipped": 0}
    lock = threading.Lock()

    def execute(name: str) -> None:
        try:
            result = run_now(name, url, settings, log=log)
            status = "skipped" if result["status"] == "skipped" else "succeeded"
            log(f"job {name}: {result['status']}" + (f" ({result.get('message')})" if status == "skipped" else ""))
        except Exception as exc:  # recorded in job_runs by the runner; the scheduler goes on
            status = "failed"
            log(f"job {name}: failed: {first_line(exc)}")
        with lock:
            runs[status] += 1

    for name, trig in plan.items():
        scheduler.add_job(execute, trig, args=[name], id=name, name=name)
        log(f"scheduled {name}: {schedules(settings)[name]}")

    def stop(signum, frame):
        log(f"received {signal.Signals(signum).name}: no new jobs; letting a running job finish")
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.stderr.flush()
    scheduler.start()  # blocks until stop(); running job threads are joined before the process exits
    return {"job": "scheduler", "status": "stopped", "runs": runs}
