"""Publishing a run: the last statements of its one write transaction, for both executors.

With history written (in the run's own table) and the run's targets staged in ``run_targets``, two
steps.  ``targets`` (time that grows with the run, before any lock): caps applied, the source's next
CRM targets built in the run's own table (``retention_targets_r<run>``: this run's targets with what
the CRM recorded for them, and the source's targets it no longer has, marked dropped), its indexes,
the run's summaries and notifications.  ``publish`` (time that does not grow with the run): the CRM's
table locked, the CRM's updates the build could not see copied over, the source's partition swapped
for the run's and the run's history attached (catalog changes), the run flipped to succeeded.  The
build is checked by the database's owner before the lock (no CRM row lost or changed, no CRM work made
up): the scorer's own table cannot be used to drop or forge the CRM's rows.
Readers see all of it or none of it; the CRM waits only for the second step.
"""

from __future__ import annotations

import json
import time

import psycopg
from psycopg import sql

from ..base.errors import ChurnDBError
from ..store import run_state
from ..store.sqlfiles import statements
from .pipeline import RunSpec, Stages, Tally

SQL = statements(__name__)


def publish(writer: psycopg.Connection, run: RunSpec, tally: Tally, stages: Stages, expected: int) -> None:
    """``expected``: the customers of the run's snapshot.  A run that scored none of them, or not all
    of them, is refused here, for both executors: the CRM's table is never emptied or half-refreshed."""
    if expected == 0:
        raise ChurnDBError(f"run {run.run_id}: no customer has a snapshot on or before {run.as_of}; "
                           "nothing was published")
    if tally.customers != expected:
        raise ChurnDBError(f"run {run.run_id} scored {tally.customers:,} of the {expected:,} customers of its "
                           "snapshot; nothing was published")
    t = time.perf_counter()
    policy = run.policy
    targets_table = sql.Identifier("churndb", f"retention_targets_r{int(run.run_id)}")
    history_table = sql.Identifier("churndb", f"score_history_r{int(run.run_id)}")
    params = {"campaign_id": run.campaign, "policy_version": policy.policy_version,
              "model_version": run.model_version, "run_id": run.run_id, "scored_at": run.started_at,
              "source": run.source.name, "uplift_model_version": run.uplift_model_version}
    writer.execute(SQL.query("targets_work_mem"))
    if not run.shadow:
        writer.execute(SQL.query("analyze_run_targets"))  # the planner sizes its joins on the real row count
        _apply_caps(writer, policy.program_budget, policy.contact_capacity)
        tally.targets, tally.controls = writer.execute(SQL.query("count_targets")).fetchone()
        previous = writer.execute(SQL.query("previous_published_targets"),
                                  {"run_id": run.run_id, "source": run.source.name}).fetchone()
        _alert_on_target_shift(writer, run, tally.targets, previous)
        snapshot = _build_targets(writer, targets_table, history_table, params)
        writer.execute(SQL.query("insert_roi_summary"), {"run_id": run.run_id, "success_rate": policy.success_rate,
                                                         "horizon_months": policy.value_horizon_months,
                                                         "has_value": run.source.value_column is not None})
        notifications = _queue_notifications(writer, run, previous)
    writer.execute(SQL.compose("insert_segment_summary", table=history_table), {"run_id": run.run_id})
    t = stages.add("targets", t)
    writer.execute(SQL.query("attach_run_history"), {"run_id": run.run_id})
    if not run.shadow:
        writer.execute(SQL.query("lock_targets"))
        writer.execute(SQL.query("swap_run_targets"), {**params, "snapshot": snapshot})
    stages.add("publish", t)
    run_state.succeed(writer, run.run_id, customers=tally.customers, targets=tally.targets,
                 partitions=tally.partitions or None, stage_seconds=stages.rounded(), summary=tally.summary())
    if not run.shadow:  # LISTENers hear of it when (and only if) this transaction commits
        writer.execute(SQL.query("notify_published"), {"summary": json.dumps({
            "run_id": run.run_id, "model_version": run.model_version, "as_of_date": run.as_of.isoformat(),
            "source": run.source.name,
            "customers": tally.customers, "targets": tally.targets, "notifications": notifications,
            "min_score": run.notify_min_score})})


def _build_targets(writer: psycopg.Connection, table: sql.Composable, history: sql.Composable, params: dict) -> str:
    """Fill (creating it first) the run's targets table from ``run_targets``, the run's history table (the
    reasons) and the source's partition, index and check it; returns the snapshot taken before the
    partition was read (the CRM's later updates are copied at publish).  Runs of one source build one at a time (an advisory lock until commit): the
    partition a build reads is the one its publish swaps out."""
    writer.execute(SQL.query("lock_source_targets"), params)
    snapshot, schema, partition = writer.execute(SQL.query("build_snapshot"), params).fetchone()
    writer.execute(SQL.query("create_run_targets"), params)
    writer.execute(SQL.compose("build_run_targets", table=table, history=history,
                               current=sql.Identifier(schema, partition)), params)
    writer.execute(SQL.query("index_run_targets"), {**params, "snapshot": snapshot})
    return snapshot


def _apply_caps(writer: psycopg.Connection, budget, capacity) -> None:
    """Keep in ``run_targets`` only the customers within the policy's budget and contact capacity."""
    if budget is None and capacity is None:
        return
    params = {"budget": budget, "capacity": capacity}
    if budget is None:  # a capacity alone: a bounded top-N sort
        writer.execute(SQL.query("kept_targets_by_capacity"), params)
    else:
        writer.execute(SQL.query("kept_targets"), params)
    writer.execute(SQL.query("empty_targets"))
    writer.execute(SQL.query("refill_targets"))


def _queue_notifications(writer: psycopg.Connection, run: RunSpec, previous) -> int:
    """Outbox rows for treatment targets newly at or above ``[notify] min_score``; returns how many."""
    return writer.execute(SQL.query("queue_notifications"), {
        "run_id": run.run_id, "min_score": run.notify_min_score,
        "previous_run": previous[0] if previous else None}).rowcount


def _alert_on_target_shift(writer: psycopg.Connection, run: RunSpec, targets: int, previous) -> None:
    """A target count far from the previous run's may be real (a new snapshot, a policy change): the run
    is published, and an alert in the same transaction says so.  ``previous``: (run_id, targets) or None."""
    if not previous or not previous[1]:
        return
    shift = (targets - previous[1]) / previous[1]
    if abs(shift) > run.target_shift_max:
        writer.execute(SQL.query("insert_target_shift_alert"), {
            "message": f"run {run.run_id} has {targets:,} retention targets, {shift:+.0%} against run {previous[0]}'s "
                       f"{previous[1]:,} (limit {run.target_shift_max:.0%}); published — check the snapshot and policy",
            "run_id": run.run_id, "model_version": run.model_version,
            "details": json.dumps({"targets": targets, "previous_run": previous[0], "previous_targets": previous[1],
                                   "shift": shift})})
