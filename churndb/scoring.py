"""``churndb score``: score every customer with one model and publish the run whole.

One run = one ``scoring_runs`` row and one write transaction.  The latest
snapshot of every customer is streamed in key-ordered chunks from a
REPEATABLE READ snapshot (memory stays flat; the run sees one consistent
state of the customer base), scored, and written with COPY into
``score_history`` and a staging table of targets.  At the end, in the same
transaction, ``retention_targets`` is refreshed and the run flips to
``succeeded``: readers see all of it or none of it.  A killed run leaves only
its 'running' row, which the next run marks failed (it no longer holds the
run's advisory lock).

Reading the next chunk and writing the previous one overlap with scoring the
current one (two I/O threads); stage timings are the time each stage took,
so they can add up to more than the run's wall time.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import socket
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import psycopg

from . import db, drift, progress, registry, signing
from .config import Settings
from .errors import ChurnDBError
from .policy import Policy, policy_in_force
from .reasons import top_reasons
from .sqlfiles import query

DEFAULT_CHUNK_ROWS = 100_000
CONTROL_HASH_KEY = "churndb-control1"  # 16 bytes


def default_campaign(today: dt.date) -> str:
    """Campaigns run by calendar quarter unless named: control assignment is stable within one."""
    return f"{today.year}-Q{(today.month - 1) // 3 + 1}"


def control_group(customer_ids: np.ndarray, campaign_id: str, share: float) -> np.ndarray:
    """True for the customers held out as control: a stable hash of (campaign, customer) below ``share``."""
    keys = pd.Series([f"{campaign_id}:{c}" for c in customer_ids], dtype=object)
    position = pd.util.hash_pandas_object(keys, index=False, hash_key=CONTROL_HASH_KEY).to_numpy(np.uint64) / 2.0**64
    return position < share


def suggested_offers(reasons: list[list[dict]], playbooks: dict) -> list[str | None]:
    """The playbook offer of the strongest reason that has one."""
    out = []
    for customer in reasons:
        out.append(next((playbooks[r["feature"]] for r in customer if r["feature"] in playbooks), None))
    return out


@dataclass
class Stages:
    seconds: dict = field(default_factory=lambda: dict.fromkeys(
        ("read", "transform", "predict", "reasons", "write", "publish"), 0.0))

    def add(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - since
        return now

    def merge(self, seconds: dict) -> None:
        """Add another process's stage times (a Dask worker's partition)."""
        for stage, value in seconds.items():
            self.seconds[stage] = self.seconds.get(stage, 0.0) + value

    def rounded(self) -> dict:
        return {k: round(v, 3) for k, v in self.seconds.items()}


LAST_KEY = 2**63 - 1  # the largest bigint: "no upper bound" for a key range


def read_chunk(reader: psycopg.Connection, as_of: dt.date, after: int, limit: int, upto: int = LAST_KEY
               ) -> pd.DataFrame:
    """The latest snapshot of up to ``limit`` customers with ``after < customer_id <= upto``, in key order."""
    buf = io.BytesIO()
    params = {"as_of_date": as_of, "after": after, "upto": upto, "limit": limit}
    with reader.cursor() as cur:
        with cur.copy(query("copy_latest_snapshots_chunk"), params) as cp:
            for block in cp:
                buf.write(block)
    if buf.tell() == 0:
        return pd.DataFrame()
    buf.seek(0)
    return pd.read_csv(buf, keep_default_na=False, na_values=[""], low_memory=False)


def copy_csv(writer: psycopg.Connection, statement: str, frame: pd.DataFrame) -> None:
    if frame.empty:
        return
    text = frame.to_csv(index=False, header=False, lineterminator="\n")
    with writer.cursor() as cur:
        with cur.copy(statement) as cp:
            cp.write(text)


def score_chunk(model, policy: Policy, chunk: pd.DataFrame, stages: Stages, campaign_id: str, with_reasons=True):
    """Probabilities, policy fields, reasons (targeted customers) and control flags for one chunk."""
    t = time.perf_counter()
    matrix = model.named_steps["features"].transform(chunk)
    t = stages.add("transform", t)
    p = model.named_steps["stack"].predict_proba(matrix)[:, 1]
    t = stages.add("predict", t)
    scored = policy.apply(p, chunk["monthly_charges"].fillna(0.0).to_numpy())
    scored.insert(0, "customer_id", chunk["customer_id"].to_numpy())
    targeted = scored["targeted"].to_numpy()
    reasons: list = [None] * len(scored)
    offers: list = [None] * len(scored)
    if with_reasons and targeted.any():
        idx = np.flatnonzero(targeted)
        found = top_reasons(model, matrix[idx])
        for i, r, o in zip(idx, found, suggested_offers(found, policy.reason_playbooks)):
            reasons[i], offers[i] = r, o
    scored["top_reasons"] = [json.dumps(r) if r is not None else None for r in reasons]
    scored["suggested_offer"] = offers
    scored["expected_net_value"] = np.round(
        policy.success_rate * scored["estimated_revenue_at_risk"] - scored["estimated_intervention_cost"], 2)
    scored["treatment_group"] = np.where(
        control_group(scored["customer_id"].to_numpy(), campaign_id, policy.control_share), "control", "treatment")
    stages.add("reasons", t)
    return scored


def score(url: str, settings: Settings, model: str | int = "champion", as_of: dt.date | None = None,
          shadow: bool = False, campaign: str | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS,
          reasons: bool = True, executor: str = "local", scheduler: str | None = None,
          partitions: int | None = None, workers: int | None = None) -> dict:
    """Score every customer and publish one run.  ``executor="dask"`` splits the key space into
    ``partitions`` scored by the Dask cluster at ``scheduler`` (a LocalCluster of ``workers`` processes
    when None); the run is published in one transaction either way."""
    if executor not in ("local", "dask"):
        raise ChurnDBError(f"unknown executor {executor!r}: use local or dask")
    started_clock = time.perf_counter()
    key = signing.signing_key(settings)
    control = db.connect(url, autocommit=True, application="churndb-score")
    run_id = None
    stages = Stages()
    try:
        abandoned = [r[0] for r in control.execute(query("fail_abandoned_runs")).fetchall()]
        control.execute(query("drop_abandoned_staging"))
        version, fitted, _ = registry.load(control, key, model)
        if shadow and version == registry.resolve(control, "champion"):
            raise ChurnDBError(f"model {version} is the champion; a shadow run scores a challenger")
        policy = policy_in_force(control)
        baseline = control.execute(query("model_baseline"), {"model_version": version}).fetchone()[0]
        as_of = as_of or control.execute(query("latest_snapshot_date")).fetchone()[0]
        if as_of is None:
            raise ChurnDBError("no customer snapshots to score: run `churndb ingest FILE` first")
        campaign = campaign or default_campaign(dt.date.today())
        run_id, started_at = control.execute(query("start_run"), {
            "model_version": version, "policy_version": policy.policy_version, "as_of_date": as_of,
            "source": "customer_snapshots", "campaign_id": campaign, "is_shadow": shadow,
            "host": socket.gethostname(), "pid": os.getpid(), "executor": executor}).fetchone()
        control.execute(query("hold_run_lock"), {"run_id": run_id})
        # Creating a partition locks the parent table: do it before the long transaction.
        control.execute(query("ensure_partition"), {"at": started_at})
        run = RunSpec(run_id=run_id, started_at=started_at, model_version=version, policy=policy, as_of=as_of,
                      campaign=campaign, shadow=shadow, reasons=reasons and not shadow, chunk_rows=chunk_rows,
                      baseline=baseline)
        if executor == "dask":
            from . import distributed

            tally = distributed.run(url, control, run, stages, scheduler=scheduler, partitions=partitions,
                                    workers=workers)
        else:
            tally = _run(url, fitted, run, stages)
    except BaseException as exc:
        if run_id is not None:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            try:
                control.execute(query("fail_run"), {"run_id": run_id, "error": message[:1000],
                                                    "stage_seconds": json.dumps(stages.rounded())})
                control.execute(query("drop_run_staging"), {"run_id": run_id})
            except psycopg.Error:
                pass  # the database is gone; the next run marks this one failed
        if isinstance(exc, psycopg.Error):
            raise db.as_churndb_error(exc) from None
        raise
    finally:
        control.close()
    return {
        "run_id": run_id, "model_version": version, "policy_version": policy.policy_version,
        "as_of_date": as_of.isoformat(), "campaign_id": campaign, "shadow": shadow, "executor": executor,
        "customers_scored": tally.customers, "targets": tally.targets, "control_group": tally.controls,
        "segments": tally.segments(policy), "stage_seconds": stages.rounded(),
        "seconds": round(time.perf_counter() - started_clock, 3), "abandoned_runs_failed": abandoned,
        **({"partitions": tally.partitions} if executor == "dask" else {}),
    }


@dataclass(frozen=True)
class RunSpec:
    """What every chunk of one run is scored with, wherever it is scored."""
    run_id: int
    started_at: dt.datetime
    model_version: int
    policy: Policy
    as_of: dt.date
    campaign: str
    shadow: bool
    reasons: bool
    chunk_rows: int
    baseline: dict


@dataclass
class Tally:
    """Counts a run publishes in its summary, added up chunk by chunk (and partition by partition)."""
    customers: int = 0
    categories: Counter = field(default_factory=Counter)
    score_bands: np.ndarray = field(default_factory=lambda: np.zeros(drift.SCORE_BANDS, dtype=np.int64))
    features: dict = field(default_factory=dict)
    targets: int = 0
    controls: int = 0
    partitions: int = 0

    def add_chunk(self, scored: pd.DataFrame, chunk: pd.DataFrame, baseline: dict) -> None:
        self.customers += len(scored)
        self.categories.update(scored["risk_category"].str.lower())
        self.score_bands += drift.score_band_counts(scored["risk_score"].to_numpy())
        for column, c in drift.counts_for(chunk, baseline).items():
            self.features[column] = self.features.get(column, 0) + c

    def to_json(self) -> dict:
        return {"customers": self.customers, "categories": dict(self.categories),
                "score_bands": self.score_bands.tolist(),
                "features": {k: np.asarray(v).tolist() for k, v in self.features.items()}}

    def add_json(self, part: dict) -> None:
        self.customers += part["customers"]
        self.categories.update(part["categories"])
        self.score_bands += np.asarray(part["score_bands"], dtype=np.int64)
        for column, c in part["features"].items():
            self.features[column] = self.features.get(column, 0) + np.asarray(c, dtype=np.int64)

    def summary(self) -> dict:
        """What the run row keeps (``scoring_runs.summary``): the score and input histograms."""
        whole = self.to_json()
        return {"score_bands": whole["score_bands"], "features": whole["features"]}

    def segments(self, policy: Policy) -> dict:
        return {b.risk_category.lower(): int(self.categories.get(b.risk_category.lower(), 0)) for b in policy.bands}


def _timed(stages: Stages, stage: str, fn, *args):
    t = time.perf_counter()
    try:
        return fn(*args)
    finally:
        stages.add(stage, t)


def _run(url, fitted, run: RunSpec, stages: Stages) -> Tally:
    reader = db.connect(url, application="churndb-score-read")
    reader.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    reader.read_only = True
    writer = db.connect(url, application="churndb-score-write")
    tally = Tally()
    try:
        with reader.transaction(), writer.transaction():
            total = reader.execute(query("count_latest_customers"), {"as_of_date": run.as_of}).fetchone()[0]
            writer.execute(query("create_target_staging"))
            with progress.bar(total, f"scoring run {run.run_id}", unit="customers") as bar, \
                    ThreadPoolExecutor(max_workers=2, thread_name_prefix="churndb-score-io") as io:
                # Pipeline: while chunk i is scored here, chunk i+1 is read and chunk i-1 written on the
                # two I/O threads (each with its own connection); writes stay in order, one in flight.
                reading = io.submit(_timed, stages, "read", read_chunk, reader, run.as_of, 0, run.chunk_rows)
                writing = None
                while True:
                    chunk = reading.result()
                    if chunk.empty:
                        break
                    reading = io.submit(_timed, stages, "read", read_chunk, reader, run.as_of,
                                        int(chunk["customer_id"].iloc[-1]), run.chunk_rows)
                    scored = score_chunk(fitted, run.policy, chunk, stages, run.campaign, with_reasons=run.reasons)
                    if writing is not None:
                        writing.result()
                    writing = io.submit(_timed, stages, "write", _write_chunk, writer, scored, chunk, run)
                    tally.add_chunk(scored, chunk, run.baseline)
                    bar.update(len(scored))
                if writing is not None:
                    writing.result()
            publish(writer, run, tally, stages)
    finally:
        reader.close()
        writer.close()
    return tally


def publish(writer: psycopg.Connection, run: RunSpec, tally: Tally, stages: Stages) -> None:
    """Inside the run's write transaction, with history written and ``run_targets`` staged: refresh
    ``retention_targets``, write the run's summaries and flip it to succeeded."""
    t = time.perf_counter()
    policy = run.policy
    if not run.shadow:
        writer.execute(query("lock_targets"))
        writer.execute(query("apply_target_caps"),
                       {"budget": policy.program_budget, "capacity": policy.contact_capacity})
        tally.targets, tally.controls = writer.execute(query("count_targets")).fetchone()
        params = {"campaign_id": run.campaign, "policy_version": policy.policy_version,
                  "model_version": run.model_version, "run_id": run.run_id, "scored_at": run.started_at}
        writer.execute(query("publish_targets"), params)
        writer.execute(query("drop_stale_targets"), {"scored_at": run.started_at})
        writer.execute(query("insert_roi_summary"), {"run_id": run.run_id, "success_rate": policy.success_rate,
                                                     "horizon_months": policy.value_horizon_months})
    writer.execute(query("insert_segment_summary"), {"run_id": run.run_id})
    stages.add("publish", t)
    writer.execute(query("succeed_run"), {"run_id": run.run_id, "customers": tally.customers,
                                          "targets": tally.targets, "partitions": tally.partitions or None,
                                          "stage_seconds": json.dumps(stages.rounded()),
                                          "summary": json.dumps(tally.summary())})


def history_frame(scored: pd.DataFrame, chunk: pd.DataFrame, run: RunSpec) -> pd.DataFrame:
    """One chunk's rows for score_history, in ``copy_score_history`` column order."""
    return pd.DataFrame({
        "scored_at": run.started_at.isoformat(), "run_id": run.run_id, "customer_id": scored["customer_id"],
        "model_version": run.model_version, "churn_probability": scored["churn_probability"],
        "risk_score": scored["risk_score"], "risk_category": scored["risk_category"],
        "retention_action": scored["retention_action"],
        "estimated_intervention_cost": scored["estimated_intervention_cost"],
        "estimated_revenue_at_risk": scored["estimated_revenue_at_risk"],
        "snapshot_date": chunk["as_of_date"].to_numpy(), "is_shadow": run.shadow, "top_reasons": scored["top_reasons"],
    })


TARGET_COLUMNS = ["customer_id", "churn_probability", "risk_score", "risk_category", "retention_action",
                  "suggested_offer", "estimated_intervention_cost", "estimated_revenue_at_risk",
                  "expected_net_value", "top_reasons", "treatment_group"]


def _write_chunk(writer, scored: pd.DataFrame, chunk: pd.DataFrame, run: RunSpec) -> None:
    copy_csv(writer, query("copy_score_history"), history_frame(scored, chunk, run))
    if not run.shadow:
        copy_csv(writer, query("copy_target_staging"), scored.loc[scored["targeted"], TARGET_COLUMNS])
