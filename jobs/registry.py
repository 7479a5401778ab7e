"""The jobs by name, and running one now (``churndb jobs run NAME``)."""

from __future__ import annotations

import datetime as dt
from typing import Callable

from churndb.config import Settings

from . import history, ingest_feed, monitor, outcomes, retrain, score
from .runner import run_job

JOBS: dict[str, Callable[..., dict]] = {
    "ingest_feed": ingest_feed.run,
    "outcomes": outcomes.run,
    "score": score.run,
    "monitor": monitor.run,
    "retrain": retrain.run,
    "history": history.run,
}


def run_now(name: str, url: str, settings: Settings, log: Callable[[str], None] = lambda m: None,
            start: dt.date | None = None, end: dt.date | None = None) -> dict:
    job = JOBS[name]
    kwargs = {"start": start, "end": end} if name == "retrain" else {}
    return run_job(url, name, lambda: job(url, settings, **kwargs), log=log)
