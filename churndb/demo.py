"""``churndb demo``: the main job end to end on synthetic data and the default database."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable

from .base.config import load_settings
from .base.errors import ChurnDBError
from .doctor import diagnose
from .doctor import report as doctor_report
from .ingest.snapshot import ingest_snapshot
from .model.sample import write_sample
from .ops.monitor import monitor
from .ops.report import metrics_text, write_report
from .ops.status import status
from .scoring.coordinator import score
from .store import migrate
from .store.db import database_url
from .training.candidate import describe, train
from .training.spec import TrainingSpec

DEMO_ROWS = 25_000


def run_demo(args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Any]:
    settings = load_settings()
    url = database_url(settings)
    say(f"database: {'embedded PostgreSQL in ' + str(settings.home) if not settings.database_url else 'CHURNDB_DATABASE_URL'}")
    revision = migrate.upgrade(url)
    say(f"schema at revision {revision}")
    path = Path(settings.home) / "demo" / "customers.csv"
    rows = write_sample(DEMO_ROWS, path, seed=42)
    say(f"sample: {rows:,} synthetic customers -> {path}")
    result = ingest_snapshot(url, path)
    say(f"ingest: batch {result.batch_id}, {result.rows_in:,} rows in, {result.rows_loaded:,} loaded, "
        f"{result.rows_rejected:,} rejected, {result.labels_loaded:,} labels"
        + (" (already loaded)" if result.already_loaded else ""))
    trained = train(url, settings, TrainingSpec(), promote_if_better=True)
    for line in describe(trained):
        say(line)
    run = score(url, settings)
    say(f"score: run {run['run_id']} scored {run['customers_scored']:,} customers with model {run['model_version']} "
        f"in {run['seconds']:.1f}s; {run['targets']:,} retention targets ({run['control_group']:,} control)")
    report = write_report(url, Path(settings.home) / "demo" / "report")
    say(metrics_text(report["metrics"]))
    say(f"report (report.html, deployment_metrics.txt) and CRM exports: {report['path']}")
    watched = monitor(url, settings)
    for alert in watched["alerts"]:
        say(f"monitor alert [{alert['severity']}] {alert['rule']}: {alert['message']}")
    info = status(url)
    for line in info.pop("_lines"):
        say(line)
    checks = diagnose(url, settings)
    for c in checks:
        say(f"doctor: {c.status:<4}  {c.check:<12} {c.message}")
    health = doctor_report(checks)
    if not health["ok"]:
        raise ChurnDBError("the demo database fails `churndb doctor`: "
                           + "; ".join(f"{c.check}: {c.message}" for c in checks if c.status == "fail"))
    return {"schema_revision": revision, "ingest": result.as_dict(), "snapshots": info["snapshots"],
            "model_version": trained["model_version"], "model_status": trained["status"],
            "metrics": trained["metrics"], "run_id": run["run_id"], "segments": run["segments"],
            "report": report["path"], "alerts": watched["alerts"], "doctor": health}
