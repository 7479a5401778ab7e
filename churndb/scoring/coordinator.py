"""``churndb score``: score every customer with one model and publish the run whole.

One run = one ``scoring_runs`` row and one write transaction.  ``score`` resolves the model (verified
before unpickling) and the policy in force, records the run and holds its advisory lock, then hands
it to an executor: ``local`` (this process, ``scoring.local``) or ``dask`` (partitions on a Dask
cluster, ``scoring.cluster``).  Either publishes with ``scoring.publish`` in one transaction.  A
killed run leaves only its 'running' row, which the next run marks failed.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import psycopg

from ..base.config import Settings, checked
from ..base.errors import ChurnDBError
from ..base.text import first_line
from ..store import db, registry, run_state, signing, sources
from ..store.segment_policy import policy_in_force
from . import local, pipeline
from .pipeline import DEFAULT_CHUNK_ROWS, RunSpec, Stages

EXECUTORS = ("local", "dask")


@dataclass(frozen=True)
class ScoreOptions:
    """How a run is executed: the one place the ``[score]`` settings are read and checked.

    ``chunk_rows`` customers per chunk (default 100,000); ``executor`` local or dask; ``scheduler`` a
    Dask scheduler address (unset: a LocalCluster of ``workers`` processes); ``partitions`` key ranges;
    ``max_target_shift`` the share the target count may move from the previous run before the run is
    published with an alert (default 0.5)."""
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    executor: str = "local"
    scheduler: str | None = None
    workers: int | None = None
    partitions: int | None = None
    max_target_shift: float = 0.5
    tls_ca_file: str | None = None
    tls_client_cert: str | None = None
    tls_client_key: str | None = None
    allow_insecure_scheduler: bool = False
    notify_min_score: int = 80

    @classmethod
    def from_settings(cls, settings: Settings, **given) -> "ScoreOptions":
        """Command-line values (``given``, None = not given) over the config file's ``[score]`` section."""
        values = {}
        for name, kind in (("chunk_rows", int), ("executor", str), ("scheduler", str), ("workers", int),
                           ("partitions", int)):
            given_value = given.get(name)
            if given_value is None:
                values[name] = settings.get("score", name, kind, getattr(cls, name), minimum=1 if kind is int else None)
            else:
                values[name] = checked(f"--{name.replace('_', '-')}", given_value, kind, 1 if kind is int else None)
        values["max_target_shift"] = settings.get("score", "max_target_shift", float, cls.max_target_shift, minimum=0)
        for name in ("tls_ca_file", "tls_client_cert", "tls_client_key"):
            values[name] = settings.get("score", name, str)
        values["allow_insecure_scheduler"] = settings.get("score", "allow_insecure_scheduler", bool, False)
        values["notify_min_score"] = settings.get("notify", "min_score", int, cls.notify_min_score, minimum=0)
        if values["executor"] not in EXECUTORS:
            raise ChurnDBError(f"unknown executor {values['executor']!r}: use local or dask")
        return cls(**values)


def scored_source(conn: psycopg.Connection, name: str, options: ScoreOptions) -> sources.Source:
    """The source a run scores; one line when it cannot be scored: keyed by row numbers (a CRM cannot
    act on a row number)."""
    layout = sources.require(conn, name)
    if layout.row_ids:
        raise ChurnDBError(f"source {layout.name} is keyed by row numbers (--row-ids): it is for training and "
                           "evaluation only; a CRM cannot act on a row number, so it is never scored")
    return layout


def _targeting(conn: psycopg.Connection, key: bytes, policy, layout: sources.Source):
    """(uplift model version, uplift model, what the run ranks by).  A policy asking for uplift targeting
    uses the source's uplift model in use -- one that beat risk ranking on its hold-out; without one the
    run ranks by risk, and says so."""
    if policy.targeting != "uplift":
        return None, None, {"policy": "risk", "used": "risk"}
    version = registry.champion_version(conn, layout.name, kind="uplift")
    if version is None:
        return None, None, {"policy": "uplift", "used": "risk",
                            "why": f"no uplift model of source {layout.name} beats risk ranking yet "
                                   "(`churndb train-uplift --campaign C`)"}
    return version, registry.load_uplift(conn, key, version), {"policy": "uplift", "used": "uplift",
                                                                "uplift_model_version": version}


def score(url: str, settings: Settings, model: str | int = "champion", as_of: dt.date | None = None,
          shadow: bool = False, campaign: str | None = None, reasons: bool = True,
          options: ScoreOptions | None = None, source: str | None = None) -> dict:
    """Score every customer of ``source`` (default ``[score] source``, else the telecom layout) and
    publish one run (``options``: how; default from ``[score]``)."""
    options = options or ScoreOptions.from_settings(settings)
    started_clock = time.perf_counter()
    key = signing.signing_key(settings)
    control = db.connect(url, autocommit=True, application="churndb-score")
    run_id = None
    stages = Stages()
    try:
        abandoned = run_state.fail_abandoned(control)
        layout = scored_source(control, source or settings.get("score", "source", str, sources.TELECOM), options)
        version = registry.resolve(control, model, layout.name)
        trained_on = registry.model_source(control, version)
        if trained_on != layout.name:
            raise ChurnDBError(f"model {version} was trained on source {trained_on}, not {layout.name}: "
                               f"score it with --source {trained_on}")
        version, fitted, _ = registry.load(control, key, version)
        if shadow and version == registry.resolve(control, "champion", layout.name):
            raise ChurnDBError(f"model {version} is the champion; a shadow run scores a challenger")
        policy = policy_in_force(control)
        uplift_version, uplift, targeting = _targeting(control, key, policy, layout)
        baseline = registry.baseline(control, version)
        as_of = as_of or pipeline.latest_snapshot_date(control, layout)
        if as_of is None:
            raise ChurnDBError(f"no customer snapshots of source {layout.name} to score: run `churndb ingest FILE"
                               + ("" if layout.is_telecom else f" --source {layout.name}") + "` first")
        campaign = campaign or pipeline.default_campaign(dt.date.today())
        run_id, started_at = run_state.start(control, model_version=version, policy_version=policy.policy_version,
                                        as_of=as_of, source=layout.name, campaign=campaign, shadow=shadow,
                                        executor=options.executor)
        # Creating a partition locks the parent table: do it before the long transaction.
        run_state.ensure_history_partition(control, started_at)
        spec = RunSpec(run_id=run_id, started_at=started_at, model_version=version, policy=policy, as_of=as_of,
                       campaign=campaign, shadow=shadow, reasons=reasons and not shadow,
                       chunk_rows=options.chunk_rows, baseline=baseline, target_shift_max=options.max_target_shift,
                       notify_min_score=options.notify_min_score, source=layout,
                       uplift_model_version=uplift_version)
        if options.executor == "dask":
            from . import cluster

            access = cluster.SchedulerAccess(options.tls_ca_file, options.tls_client_cert, options.tls_client_key,
                                             options.allow_insecure_scheduler)
            tally = cluster.run(url, control, spec, stages, scheduler=options.scheduler,
                                partitions=options.partitions, workers=options.workers, access=access)
        else:
            tally = local.run(url, fitted, spec, stages, uplift=uplift)
    except BaseException as exc:
        if run_id is not None:
            try:
                run_state.fail(control, run_id, db.scrub(first_line(exc), url), stages.rounded())
            except psycopg.Error:
                pass  # the database is gone; the next run marks this one failed
        if isinstance(exc, psycopg.Error):
            raise db.as_churndb_error(exc) from None
        raise
    finally:
        control.close()
    return {
        "run_id": run_id, "source": layout.name, "model_version": version, "policy_version": policy.policy_version,
        "as_of_date": as_of.isoformat(), "campaign_id": campaign, "shadow": shadow, "executor": options.executor,
        "customers_scored": tally.customers, "targets": tally.targets, "control_group": tally.controls,
        "segments": tally.segments(policy), "targeting": targeting, "stage_seconds": stages.rounded(),
        "seconds": round(time.perf_counter() - started_clock, 3), "abandoned_runs_failed": abandoned,
        **({"partitions": tally.partitions} if options.executor == "dask" else {}),
    }
