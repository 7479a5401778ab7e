"""``churndb doctor``: the retention guide's troubleshooting section as one command.

Each check is one line, ``ok``, ``warn`` or ``fail``, saying what was found and what to do.  The
command exits 1 when any check fails.  Checks, in order (a database that cannot be reached ends the
list there):

database        reachable, and its server version
schema          at the newest migration (a database behind it: run ``churndb init``)
signing key     present and at least 32 bytes
champion        exists, its artifact verifies and loads, and it scores a probe customer
last run        the newest run's status and age (failed: fail; older than two days: warn)
scores          minimum, maximum, mean and category shares of the last published run; the guide's
                anomaly rules: mean risk above 50, a category share moving more than 5 points
jobs            the newest failed job of the last seven days
disk            free space where the embedded server keeps its data
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import psycopg

from .base.config import Settings
from .base.errors import ChurnDBError
from .base.text import first_line
from .scoring.pipeline import assess
from .store import db, migrate, registry, signing
from .store.segment_policy import policy_in_force
from .store.sqlfiles import statements

SQL = statements(__name__)
MEAN_SCORE_MAX = 50          # the guide: "average risk score above 50"
SHARE_SHIFT_MAX = 0.05       # the guide: "a segment's share moved more than 5 points"
RUN_AGE_WARN_HOURS = 48      # daily scoring: two days without a run is late
DISK_WARN_BYTES = 2 * 1024**3
DISK_FAIL_BYTES = 200 * 1024**2


@dataclass(frozen=True)
class Check:
    check: str
    status: str  # ok | warn | fail
    message: str


def diagnose(url: str, settings: Settings) -> list[Check]:
    checks: list[Check] = []
    try:
        conn = db.connect(url, autocommit=True, application="churndb-doctor")
    except ChurnDBError as exc:
        return [Check("database", "fail", f"{first_line(exc)} — check CHURNDB_DATABASE_URL and that the server runs")]
    with conn:
        version = conn.execute(SQL.query("server_version")).fetchone()[0]
        checks.append(Check("database", "ok", f"PostgreSQL {version} at {db.redact(url)}"))
        checks.append(_schema(url))
        if checks[-1].status == "fail" and "not initialised" in checks[-1].message:
            return checks
        checks.append(_signing_key(settings))
        if checks[-2].status == "fail":  # behind: the checks below read tables of the newest schema
            checks.append(Check("champion", "fail", "not checked: the schema is behind (run `churndb init`)"))
            checks.append(_disk(settings))
            return checks
        checks.append(_champion(conn, settings))
        latest = conn.execute(SQL.query("latest_run")).fetchone()
        checks.append(_last_run(latest))
        checks.extend(_scores(conn, latest))
        checks.append(_jobs(conn))
    checks.append(_disk(settings))
    return checks


def _schema(url: str) -> Check:
    head, current = migrate.head_revision(), migrate.current_revision(url)
    if current is None:
        return Check("schema", "fail", "not initialised: run `churndb init`")
    if current == head:
        return Check("schema", "ok", f"at revision {current}, the newest")
    return Check("schema", "fail", f"at revision {current}, behind {head}: pending migrations — run `churndb init`")


def _signing_key(settings: Settings) -> Check:
    try:
        key = signing.signing_key(settings)
    except ChurnDBError as exc:
        return Check("signing key", "fail", first_line(exc))
    where = "CHURNDB_SIGNING_KEY" if settings.signing_key else f"{Path(settings.home) / signing.KEY_FILE}"
    return Check("signing key", "ok", f"{len(key)} bytes, from {where}")


def _champion(conn: psycopg.Connection, settings: Settings) -> Check:
    version = registry.champion_version(conn)
    if version is None:
        return Check("champion", "fail", "there is no champion model: train one and `churndb models promote V`")
    try:
        _, model, _ = registry.load(conn, signing.signing_key(settings), version, threads=1)
    except ChurnDBError as exc:
        return Check("champion", "fail", f"{first_line(exc)} — roll back (`churndb models rollback`) or promote "
                                         "another version")
    info = registry.show(conn, version)
    auc = (info.get("metrics") or {}).get("auc")
    described = f"champion {version} (hold-out AUC {auc:.3f})" if auc is not None else f"champion {version}"
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        row = cur.execute(SQL.query("probe_row")).fetchone()
    if row is None:
        return Check("champion", "warn", f"{described} verifies and loads; no snapshot to score a probe row with")
    try:
        scored, _ = assess(model, policy_in_force(conn), pd.DataFrame([row]))
    except ChurnDBError as exc:
        return Check("champion", "fail", f"{described} loads but cannot score a customer: {first_line(exc)}")
    return Check("champion", "ok", f"{described} verifies, loads and scores a probe customer "
                                   f"(risk score {int(scored['risk_score'].iloc[0])})")


def _last_run(row) -> Check:
    if row is None:
        return Check("last run", "warn", "no scoring run yet: run `churndb score`")
    run_id, status, _, _, customers, targets, error, age = row
    hours = age / 3600
    if status == "failed":
        return Check("last run", "fail", f"run {run_id} failed {hours:.1f} h ago: {error or 'no error recorded'} — "
                                         "fix the cause and run `churndb score` again")
    if status == "running":
        return Check("last run", "warn", f"run {run_id} has been running for {hours:.1f} h")
    line = f"run {run_id} published {hours:.1f} h ago: {customers:,} customers, {targets:,} targets"
    if hours > RUN_AGE_WARN_HOURS:
        return Check("last run", "warn", line + f" — older than {RUN_AGE_WARN_HOURS} h: is the daily score job running?")
    return Check("last run", "ok", line)


def _scores(conn: psycopg.Connection, newest_run) -> list[Check]:
    """The score distribution of the newest run if it was published; category shares of the two newest
    published runs."""
    shares = conn.execute(SQL.query("published_shares")).fetchall()
    latest = {c: s for n, c, s in shares if n == 1}
    previous = {c: s for n, c, s in shares if n == 2}
    if not latest:
        return []
    out = []
    published = newest_run[0] if newest_run and newest_run[1] == "succeeded" else None
    if published is not None:
        low, high, mean, _ = conn.execute(SQL.query("run_score_distribution"), {"run_id": published}).fetchone()
        split = ", ".join(f"{c} {s:.1%}" for c, s in latest.items())
        line = f"run {published}: risk score {low}..{high}, mean {mean:.1f}; {split}"
        if mean > MEAN_SCORE_MAX:
            out.append(Check("scores", "warn", line + f" — mean above {MEAN_SCORE_MAX}: check the input data and "
                                                      "the model (`churndb monitor`)"))
        else:
            out.append(Check("scores", "ok", line))
    moved = {c: latest.get(c, 0.0) - previous.get(c, 0.0) for c in set(latest) | set(previous)} if previous else {}
    big = {c: m for c, m in moved.items() if abs(m) > SHARE_SHIFT_MAX}
    if big:
        out.append(Check("segments", "warn", "share moved more than 5 points since the previous run: "
                         + ", ".join(f"{c} {m * 100:+.1f}" for c, m in sorted(big.items()))))
    elif previous:
        out.append(Check("segments", "ok", "no category share moved more than 5 points since the previous run"))
    return out


def _jobs(conn: psycopg.Connection) -> Check:
    row = conn.execute(SQL.query("recent_failed_job")).fetchone()
    if row is None:
        return Check("jobs", "ok", "no job failed in the last 7 days")
    job, at, error = row
    return Check("jobs", "warn", f"job {job} failed at {at:%Y-%m-%d %H:%M} UTC: {error or 'no error recorded'} "
                                 "(churndb.job_runs)")


def _disk(settings: Settings) -> Check:
    if settings.database_url:
        return Check("disk", "ok", "an external server: its disk is its operator's to watch")
    where = Path(settings.home) / "pgdata"
    usage = shutil.disk_usage(where if where.exists() else Path(settings.home))
    free = f"{usage.free / 1024**3:.1f} GiB free of {usage.total / 1024**3:.1f} GiB at {where}"
    if usage.free < DISK_FAIL_BYTES:
        return Check("disk", "fail", free + " — the embedded server will stop writing: free space now")
    if usage.free < DISK_WARN_BYTES:
        return Check("disk", "warn", free + " — little room left for score history")
    return Check("disk", "ok", free)


def report(checks: list[Check]) -> dict:
    return {"checks": [asdict(c) for c in checks], "ok": not any(c.status == "fail" for c in checks)}
