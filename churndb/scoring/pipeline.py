"""The chunk pipeline both executors share: read a key range of the latest snapshots in chunks,
score each chunk, write it, add it to the run's tally.

``stream`` overlaps the stages: while chunk i is scored in the calling thread, chunk i+1 is read and
chunk i-1 written on two I/O threads (each with its own connection); writes stay in order, one in
flight.  The local executor streams the whole key space; a Dask worker streams its partition.
Stage timings are the time each stage took, so they can add up to more than the wall time.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from ..model import drift
from ..model.predictor import ChurnModel
from ..model.bands import Policy, stable_position
from ..model.features import meaning
from ..model.reasons import Ranked, ranked, reasons_json
from ..store.copy import copy_in, copy_out
from ..store.sources import BUILTIN_TELECOM, Source
from ..store.sqlfiles import statements

SQL = statements(__name__)
DEFAULT_CHUNK_ROWS = 100_000
CONTROL_HASH_KEY = "churndb-control1"  # 16 bytes
OFFER_HASH_KEY = "churndb-offers01"    # 16 bytes: an arm is independent of the control draw
LAST_KEY = 2**63 - 1  # the largest bigint: "no upper bound" for a key range
FIRST_KEY = -2**63   # the smallest: "no lower bound" (sources' customer ids are negative)


def default_campaign(today: dt.date) -> str:
    """Campaigns run by calendar quarter unless named: control assignment is stable within one."""
    return f"{today.year}-Q{(today.month - 1) // 3 + 1}"


def control_group(customer_ids: np.ndarray, campaign_id: str, share: float) -> np.ndarray:
    """True for the customers held out as control: a stable hash of (campaign, customer) below ``share``."""
    return stable_position(customer_ids, campaign_id, CONTROL_HASH_KEY) < share


def offer_arms(customer_ids: np.ndarray, categories: np.ndarray, campaign_id: str, policy: Policy) -> np.ndarray:
    """The offer arm of each customer (None where the segment tests no offers): a second stable hash of
    (campaign, customer) against the segment's cumulative shares, so a customer keeps their arm on every
    re-score of a campaign and draws again in the next.  Callers pass contacted customers only."""
    out = np.full(len(customer_ids), None, dtype=object)
    if not policy.arms or not len(customer_ids):
        return out
    position = stable_position(customer_ids, campaign_id, OFFER_HASH_KEY)
    for category in np.unique(categories):
        arms = policy.arms_of(str(category))
        if not arms:
            continue
        rows = categories == category
        bounds = np.cumsum([a.share for a in arms])
        pick = np.minimum(np.searchsorted(bounds, position[rows], side="right"), len(arms) - 1)
        out[rows] = np.array([a.arm for a in arms], dtype=object)[pick]
    return out


def suggested_offers(reasons: Ranked, names: list[str], playbooks: dict) -> np.ndarray:
    """The playbook offer of the strongest reason that has one (``names``: each feature as reasons name it)."""
    offer_of = np.array([playbooks.get(name) for name in names], dtype=object)
    out = np.full(len(reasons.raising), None, dtype=object)
    for k in reversed(range(reasons.feature.shape[1])):  # the strongest last: it wins
        offer = offer_of[reasons.feature[:, k]]
        take = (reasons.raising > k) & (offer != None)  # noqa: E711 (elementwise)
        out[take] = offer[take]
    return out


@dataclass
class Stages:
    seconds: dict = field(default_factory=lambda: dict.fromkeys(
        ("read", "transform", "predict", "reasons", "write", "targets", "publish"), 0.0))

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

    def timed(self, stage: str, fn, *args):
        t = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.add(stage, t)


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
    target_shift_max: float = 0.5  # share the target count may move from the previous run without an alert
    notify_min_score: int = 80     # risk score at which a newly risky customer is put in the outbox
    source: Source = BUILTIN_TELECOM  # what is scored: the telecom layout or a registered source
    uplift_model_version: int | None = None  # targeting by uplift with this model (None: by risk)


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
    targeted: int = 0  # before the caps: the rows a run stages as candidate targets

    def add_chunk(self, scored: pd.DataFrame, chunk: pd.DataFrame, baseline: dict) -> None:
        self.customers += len(scored)
        self.targeted += int(scored["targeted"].sum())
        self.categories.update({k: int(v) for k, v in scored["risk_category"].str.lower().value_counts().items()})
        self.score_bands += drift.score_band_counts(scored["risk_score"].to_numpy())
        for column, c in drift.counts_for(chunk, baseline).items():
            self.features[column] = self.features.get(column, 0) + c

    def to_json(self) -> dict:
        return {"customers": self.customers, "targeted": self.targeted, "categories": dict(self.categories),
                "score_bands": self.score_bands.tolist(),
                "features": {k: np.asarray(v).tolist() for k, v in self.features.items()}}

    def add_json(self, part: dict) -> None:
        self.customers += part["customers"]
        self.targeted += part["targeted"]
        self.categories.update(part["categories"])
        self.score_bands += np.asarray(part["score_bands"], dtype=np.int64)
        for column, c in part["features"].items():
            self.features[column] = self.features.get(column, 0) + np.asarray(c, dtype=np.int64)

    def summary(self) -> dict:
        """What the run row keeps (``scoring_runs.summary``): the score and input histograms."""
        whole = self.to_json()
        return {"score_bands": whole["score_bands"], "features": whole["features"]}

    def segments(self, policy: Policy) -> dict:
        return {c: int(self.categories.get(c, 0)) for c in policy.categories}


# ---- reading ----------------------------------------------------------------------------------------------

def latest_snapshot_date(conn: psycopg.Connection, source: Source = BUILTIN_TELECOM) -> dt.date | None:
    return conn.execute(SQL.compose("latest_snapshot_date", table=source.table)).fetchone()[0]


def count_customers(conn: psycopg.Connection, as_of: dt.date, source: Source = BUILTIN_TELECOM) -> int:
    """Customers with a snapshot on or before ``as_of`` (each is scored from its latest one)."""
    return conn.execute(SQL.compose("count_latest_customers", table=source.table),
                        {"as_of_date": as_of}).fetchone()[0]


def read_chunk(reader: psycopg.Connection, as_of: dt.date, after: int, limit: int, upto: int = LAST_KEY,
               source: Source = BUILTIN_TELECOM) -> pd.DataFrame:
    """The latest snapshot of up to ``limit`` customers with ``after < customer_id <= upto``, in key order."""
    return copy_out(reader, SQL.compose("copy_latest_snapshots_chunk", table=source.table),
                    {"as_of_date": as_of, "after": after, "upto": upto, "limit": limit},
                    text_columns=source.text_columns)


# ---- scoring ----------------------------------------------------------------------------------------------

def assess(model: ChurnModel, policy: Policy, frame: pd.DataFrame, stages: Stages | None = None,
           value_column: str | None = "monthly_charges") -> tuple[pd.DataFrame, np.ndarray]:
    """Probability and the policy's score, category, action, cost and revenue at risk for each row;
    returns (scored, feature matrix).  The one scoring path of runs and of ``ChurnScorer``.
    ``value_column``: monthly revenue; None (a source without one): revenue at risk is unknown (NaN ->
    NULL), never a made-up figure."""
    stages = stages or Stages()
    t = time.perf_counter()
    matrix = model.matrix(frame)
    t = stages.add("transform", t)
    p = model.probability(matrix)
    stages.add("predict", t)
    if value_column is None:
        value = np.full(len(frame), np.nan)
    else:
        value = pd.to_numeric(frame[value_column], errors="coerce").fillna(0.0).to_numpy()
    scored = policy.apply(p, value)
    scored.insert(0, "customer_id", frame["customer_id"].to_numpy())
    keys = frame["customer_key"] if "customer_key" in frame else frame["customer_id"].astype(str)
    scored.insert(1, "customer_key", keys.to_numpy())
    return scored, matrix


def score_chunk(model: ChurnModel, policy: Policy, chunk: pd.DataFrame, stages: Stages, campaign_id: str,
                with_reasons: bool = True, source: Source = BUILTIN_TELECOM, uplift=None) -> pd.DataFrame:
    """Probabilities, policy fields, reasons (targeted customers), control flags and offer arms for one
    chunk; with an uplift model (``uplift``), the expected uplift of targeted customers and a net value
    from it.  Reasons name a source's columns as its file header wrote them."""
    scored, matrix = assess(model, policy, chunk, stages, source.value_column)
    t = time.perf_counter()
    # The control group is drawn first, the same whatever the targeting: measurement stays unbiased.
    control = control_group(scored["customer_id"].to_numpy(), campaign_id, policy.control_share)
    targeted = scored["targeted"].to_numpy()
    # Reasons and offers for the customers the CRM will contact: targeted and not held out as control.
    contacted = targeted & ~control
    reasons = np.full(len(scored), None, dtype=object)
    offers = np.full(len(scored), None, dtype=object)
    if with_reasons and contacted.any():
        idx = np.flatnonzero(contacted)
        found = ranked(model, matrix[idx])
        names, meanings, categories = reason_labels(model, source)
        reasons[idx] = reasons_json(found, names, meanings, categories)
        offers[idx] = suggested_offers(found, names, policy.reason_playbooks)
    scored["top_reasons"] = reasons
    arms = offer_arms(scored["customer_id"].to_numpy()[contacted], scored["risk_category"].to_numpy()[contacted],
                      campaign_id, policy)
    scored["offer_arm"] = None
    scored["suggested_offer"] = offers
    if policy.arms and contacted.any():
        # An arm sets the offer made, and its own cost where it has one.
        scored.loc[contacted, "offer_arm"] = arms
        offer_of = {(a.risk_category, a.arm): a.offer for a in policy.arms}
        cost_of = {(a.risk_category, a.arm): a.intervention_cost for a in policy.arms if a.intervention_cost is not None}
        chosen = list(zip(scored["risk_category"], scored["offer_arm"]))
        offer = pd.Series([offer_of.get(k) for k in chosen], index=scored.index, dtype=object)
        cost = pd.Series([cost_of.get(k, np.nan) for k in chosen], index=scored.index, dtype=float)
        scored["suggested_offer"] = offer.where(offer.notna(), scored["suggested_offer"])
        scored["estimated_intervention_cost"] = cost.fillna(scored["estimated_intervention_cost"]).astype(float)
    scored["expected_uplift"] = np.nan
    if uplift is not None and targeted.any():
        # What a contact buys: the predicted fall in churn probability x the customer's value over the
        # policy's horizon, less the cost.  Customers a contact would push out rank last.
        idx = np.flatnonzero(targeted)
        scored.loc[idx, "expected_uplift"] = uplift.uplift(chunk.iloc[idx])
        value = (np.full(len(scored), np.nan) if source.value_column is None else
                 pd.to_numeric(chunk[source.value_column], errors="coerce").fillna(0.0).to_numpy()
                 * policy.value_horizon_months)
        scored["expected_net_value"] = np.round(
            scored["expected_uplift"] * value - scored["estimated_intervention_cost"], 2)
    else:
        scored["expected_net_value"] = np.round(
            policy.success_rate * scored["estimated_revenue_at_risk"] - scored["estimated_intervention_cost"], 2)
    scored["treatment_group"] = np.where(control, "control", "treatment")
    stages.add("reasons", t)
    return scored


def reason_labels(model: ChurnModel, source: Source) -> tuple[list[str], list[str], dict[int, list]]:
    """Per feature, the name and meaning reasons give it, and the categories of category codes: the
    model's own names for the telecom layout; for a source, the column as its header wrote it and a
    category by its value (the operator's terms)."""
    features = model.feature_names
    if source.is_telecom:
        return features, [meaning(f) for f in features], {}
    categories = {j: list(model.features.categories_[f]) for j, f in enumerate(features)
                  if f in model.features.categories_}
    names = [source.header(f) for f in features]
    return names, names, categories


# ---- writing ----------------------------------------------------------------------------------------------

def history_frame(scored: pd.DataFrame, chunk: pd.DataFrame, run: RunSpec) -> pd.DataFrame:
    """One chunk's rows for score_history, in ``copy_run_history`` column order."""
    return pd.DataFrame({
        "scored_at": run.started_at.isoformat(), "run_id": run.run_id, "customer_id": scored["customer_id"],
        "model_version": run.model_version, "churn_probability": scored["churn_probability"],
        "risk_score": scored["risk_score"], "risk_category": scored["risk_category"],
        "retention_action": scored["retention_action"],
        "estimated_intervention_cost": scored["estimated_intervention_cost"],
        "estimated_revenue_at_risk": scored["estimated_revenue_at_risk"],
        "snapshot_date": chunk["as_of_date"].to_numpy(), "is_shadow": run.shadow, "top_reasons": scored["top_reasons"],
        "source": run.source.name, "customer_key": scored["customer_key"],
        "offer_arm": scored["offer_arm"], "expected_uplift": scored["expected_uplift"],
    })


# Staged targets carry no reasons: the build takes them from the run's history rows (written and parsed once).
TARGET_COLUMNS = ["customer_id", "customer_key", "churn_probability", "risk_score", "risk_category", "retention_action",
                  "suggested_offer", "estimated_intervention_cost", "estimated_revenue_at_risk",
                  "expected_net_value", "treatment_group", "offer_arm", "expected_uplift"]


def create_target_staging(writer: psycopg.Connection) -> None:
    """``run_targets``: the run's targets, staged in its publish transaction (a temporary table)."""
    writer.execute(SQL.query("create_target_staging"))


def create_run_history(writer: psycopg.Connection, run_id: int) -> None:
    """The run's own history table, written while it scores and attached to ``score_history`` when it
    publishes (migration 0010): the publish copies no history row, for either executor."""
    writer.execute(SQL.query("create_run_history"), {"run_id": run_id})


def index_run_history(writer: psycopg.Connection, run_id: int) -> None:
    """After the last row: the run table's indexes (those of every ``score_history`` partition)."""
    writer.execute(SQL.query("index_run_history"), {"run_id": run_id})


def write_history(writer: psycopg.Connection, scored: pd.DataFrame, chunk: pd.DataFrame, run: RunSpec) -> None:
    """One chunk's history rows into the run's table (``create_run_history``)."""
    table = sql.Identifier("churndb", f"score_history_r{int(run.run_id)}")
    copy_in(writer, SQL.compose("copy_run_history", table=table), history_frame(scored, chunk, run))


def write_history_and_targets(writer: psycopg.Connection, scored: pd.DataFrame, chunk: pd.DataFrame,
                              run: RunSpec) -> None:
    """The local executor's write: history rows, and (unless shadow) targeted rows into ``run_targets``."""
    write_history(writer, scored, chunk, run)
    if not run.shadow:
        copy_in(writer, SQL.query("copy_target_staging"), scored.loc[scored["targeted"], TARGET_COLUMNS])


Writer = Callable[[pd.DataFrame, pd.DataFrame], None]  # (scored, chunk) -> None


def stream(reader: psycopg.Connection, model: ChurnModel, run: RunSpec, stages: Stages, tally: Tally,
           write: Writer, after: int = FIRST_KEY, upto: int = LAST_KEY, progress=None, uplift=None) -> None:
    """Score every customer of ``(after, upto]`` in chunks, reads and writes overlapping the scoring."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="churndb-score-io") as io:
        reading = io.submit(stages.timed, "read", read_chunk, reader, run.as_of, after, run.chunk_rows, upto,
                            run.source)
        writing = None
        while True:
            chunk = reading.result()
            if chunk.empty:
                break
            reading = io.submit(stages.timed, "read", read_chunk, reader, run.as_of,
                                int(chunk["customer_id"].iloc[-1]), run.chunk_rows, upto, run.source)
            scored = score_chunk(model, run.policy, chunk, stages, run.campaign, with_reasons=run.reasons,
                                 source=run.source, uplift=uplift)
            if writing is not None:
                writing.result()
            writing = io.submit(stages.timed, "write", write, scored, chunk)
            tally.add_chunk(scored, chunk, run.baseline)
            if progress is not None:
                progress.update(len(scored))
        if writing is not None:
            writing.result()
