"""The jobs by name, and running one now (``churndb jobs run NAME``)."""

from __future__ import annotations

import datetime as dt
from typing import Callable

from churndb.base.config import Settings

from . import daily_score, feed, history, monitor, outcomes, retrain
from .runner import run_job

JOBS: dict[str, Callable[..., dict]] = {
    "ingest_feed": feed.run,
    "outcomes": outcomes.run,
    "score": daily_score.run,
    "monitor": monitor.run,
    "retrain": retrain.run,
    "history": history.run,
}


def run_now(name: str, url: str, settings: Settings, log: Callable[[str], None] = lambda m: None,
            start: dt.date | None = None, end: dt.date | None = None) -> dict:
    job = JOBS[name]
    kwargs = {"start": start, "end": end} if name == "retrain" else {}
    return run_job(url, name, lambda: job(url, settings, **kwargs), log=log)
