"""Uplift through the database (run on demand, not a test): a pilot campaign, its uplift model, and
the next campaign targeted by risk and by uplift under the same budget.

    .venv/bin/python bench/uplift_campaign_bench.py [--rows 40000] [--effect 1.0] [--admin-url URL]

1. N synthetic customers with known treatment effects (``model.uplift.true_effects``) are ingested,
   a churn model is trained and promoted, and a pilot campaign is scored under a policy that holds
   half of the targeted customers out as control.  Outcomes are simulated (contacted customers churn
   with their treated probability) and loaded with ``outcomes load``.
2. ``train-uplift --campaign pilot``: the stored hold-out Qini of the uplift model against ranking by
   churn risk, and the oracle's (true effects) Qini on the same hold-out customers.
3. A fresh snapshot of the customers is scored twice under a program budget -- once with
   ``targeting = 'risk'``, once with ``targeting = 'uplift'`` -- and, by the true effects, the customers
   the contacted ones are expected to keep are counted; beside them a random pick and the oracle
   (the same budget spent on the largest true net value) of the same eligible customers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from churndb.base.config import Settings  # noqa: E402
from churndb.ingest.outcomes import load_outcomes  # noqa: E402
from churndb.ingest.snapshot import ingest_snapshot  # noqa: E402
from churndb.model.bands import stable_position  # noqa: E402
from churndb.model.sample import generate  # noqa: E402
from churndb.model.uplift import qini, simulate_campaign, true_effects  # noqa: E402
from churndb.scoring.coordinator import score  # noqa: E402
from churndb.scoring.pipeline import control_group  # noqa: E402
from churndb.store import db, migrate, registry  # noqa: E402
from churndb.training.candidate import train  # noqa: E402
from churndb.training.spec import TrainingSpec  # noqa: E402
from churndb.training.campaigns import HOLDOUT_HASH_KEY, HOLDOUT_SHARE, train_uplift  # noqa: E402

KEY = "bench-signing-key-not-a-secret-0123456789"
PILOT_DATE, NEXT_DATE, OUTCOME_DATE = dt.date(2026, 3, 31), dt.date(2026, 6, 30), dt.date(2026, 6, 29)


def new_policy(conn, *, control_share: float, budget: float | None, targeting: str) -> None:
    conn.execute("""
        WITH p AS (INSERT INTO churndb.segment_policy
                       (effective_from, success_rate, value_horizon_months, control_share, program_budget, targeting)
                   VALUES (now(), 0.4, 12, %s, %s, %s) RETURNING policy_version)
        INSERT INTO churndb.segment_policy_bands SELECT p.policy_version, b.risk_category, b.min_score, b.max_score,
               b.retention_action, b.intervention_cost, b.targeted
        FROM p, churndb.segment_policy_bands b WHERE b.policy_version = 1""", (control_share, budget, targeting))


def contacted(conn, run_id: int) -> np.ndarray:
    rows = conn.execute("SELECT customer_id FROM churndb.retention_targets WHERE run_id = %s AND is_current "
                        "AND treatment_group = 'treatment'", (run_id,)).fetchall()
    return np.array([r[0] for r in rows], dtype=np.int64)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=40_000)
    parser.add_argument("--effect", type=float, default=1.0, help="1 = the generator's effects, 0 = none")
    parser.add_argument("--admin-url", help="a PostgreSQL server to create the benchmark database on "
                                            "(default: an embedded throwaway server)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database (with --admin-url)")
    args = parser.parse_args()
    admin, server = (args.admin_url, None) if args.admin_url else db.throwaway_server("churndb-bench-pg-")
    name = f"churndb_uplift_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    from urllib.parse import urlsplit, urlunsplit
    url = urlunsplit(urlsplit(admin)._replace(path="/" + name))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run(url, Path(tmp), args)
    finally:
        if args.keep and server is None:
            print(f"kept database {url}")
        else:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        if server is not None:
            server.cleanup()


def run(url: str, work: Path, args) -> None:
    migrate.upgrade(url)
    settings = Settings(database_url=url, home=work, signing_key=KEY)
    pilot = generate(args.rows, seed=31)
    effects = true_effects(pilot, seed=31, effect=args.effect).set_index(pilot["customer_id"])
    pilot.to_csv(work / "pilot.csv", index=False)
    ingest_snapshot(url, work / "pilot.csv", PILOT_DATE)
    trained = train(url, settings, TrainingSpec(end=PILOT_DATE))
    with db.transaction(url) as conn:
        registry.promote(conn, trained["model_version"], "benchmark")
        new_policy(conn, control_share=0.5, budget=None, targeting="risk")
    run1 = score(url, settings, as_of=PILOT_DATE, campaign="pilot", reasons=False)
    with db.connect(url) as conn:
        groups = pd.DataFrame(conn.execute("SELECT customer_id, treatment_group FROM churndb.retention_targets "
                                           "WHERE run_id = %s", (run1["run_id"],)).fetchall(),
                              columns=["customer_id", "group"])
    treated = (groups["group"] == "treatment").to_numpy()
    churned = simulate_campaign(effects.loc[groups["customer_id"]], treated, seed=32)
    feed = pd.DataFrame({"customer_id": groups["customer_id"], "campaign_id": "pilot", "churned": churned,
                         "churned_on": np.where(churned == 1, "2026-05-15", ""),
                         "contacted_at": np.where(treated, "2026-04-02T10:00:00+00:00", "")})
    feed.to_csv(work / "outcomes.csv", index=False)
    load_outcomes(url, work / "outcomes.csv", OUTCOME_DATE)
    print(f"pilot campaign: {len(groups):,} targeted customers, {int((~treated).sum()):,} held out as control; "
          f"types {effects['type'].value_counts(normalize=True).round(3).to_dict()}")

    model = train_uplift(url, settings, "pilot")
    holdout = stable_position(groups["customer_id"].to_numpy(), "pilot", HOLDOUT_HASH_KEY) < HOLDOUT_SHARE
    oracle = qini(effects.loc[groups["customer_id"][holdout], "true_uplift"].to_numpy(), treated[holdout],
                  churned[holdout])["coefficient"]
    print(f"uplift model {model['model_version']}: stored hold-out Qini {model['qini']:+.4f} "
          f"(risk ranking {model['qini_risk_ranking']:+.4f}, oracle {oracle:+.4f} on the same "
          f"{int(holdout.sum()):,} customers); used for targeting: {model['used_for_targeting']}")

    nxt = generate(args.rows, seed=41)
    truth = true_effects(nxt, seed=41, effect=args.effect).set_index(nxt["customer_id"])
    value = pd.Series(nxt["monthly_charges"].to_numpy() * 12, index=nxt["customer_id"])
    nxt.to_csv(work / "next.csv", index=False)
    ingest_snapshot(url, work / "next.csv", NEXT_DATE)
    with db.connect(url) as conn:
        targeted_all = conn.execute("SELECT count(*) FROM churndb.score_history WHERE run_id = %s",
                                    (run1["run_id"],)).fetchone()[0]
    budget = round(targeted_all * 8.0)  # about a fifth of what contacting every targeted customer costs
    results = {}
    for targeting in ("risk", "uplift"):
        with db.transaction(url) as conn:
            new_policy(conn, control_share=0.1, budget=budget, targeting=targeting)
        done = score(url, settings, as_of=NEXT_DATE, campaign="next", reasons=False)
        with db.connect(url) as conn:
            ids = contacted(conn, done["run_id"])
            cost = conn.execute("SELECT sum(estimated_intervention_cost)::float8 FROM churndb.retention_targets "
                                "WHERE run_id = %s AND is_current", (done["run_id"],)).fetchone()[0]
            eligible = pd.DataFrame(conn.execute(
                "SELECT h.customer_id, h.estimated_intervention_cost::float8 FROM churndb.score_history h "
                "JOIN churndb.segment_policy_bands b ON b.risk_category = h.risk_category AND b.targeted "
                "AND b.policy_version = 1 WHERE h.run_id = %s", (done["run_id"],)).fetchall(),
                columns=["customer_id", "cost"])
        results[targeting] = (truth.loc[ids, "true_uplift"].sum(), len(ids), cost, done["targeting"]["used"])
    eligible = eligible[~control_group(eligible["customer_id"].to_numpy(), "next", 0.1)]
    rng = np.random.default_rng(5)
    k = results["risk"][1]
    random_pick = rng.choice(eligible["customer_id"].to_numpy(), k, replace=False)
    net = truth.loc[eligible["customer_id"], "true_uplift"].to_numpy() * value.loc[eligible["customer_id"]].to_numpy() \
        - eligible["cost"].to_numpy()
    order = np.argsort(-net)
    within = np.cumsum(eligible["cost"].to_numpy()[order]) <= budget
    oracle_pick = eligible["customer_id"].to_numpy()[order][within & (net[order] > 0)]
    print(f"next campaign: budget ${budget:,}; expected customers saved by the true effects:")
    for targeting, (saved, n, cost, used) in results.items():
        print(f"  targeting = '{targeting}' (ranked by {used}): {saved:8.1f} saved, {n:,} contacted, ${cost:,.0f} spent")
    print(f"  random pick of {k:,} eligible:        {truth.loc[random_pick, 'true_uplift'].sum():8.1f}")
    print(f"  oracle (true net value, same budget): {truth.loc[oracle_pick, 'true_uplift'].sum():8.1f} saved, "
          f"{len(oracle_pick):,} contacted")


if __name__ == "__main__":
    main()
