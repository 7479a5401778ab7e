"""Uplift benchmark (run on demand, not a test): with the same budget, who does a call save?

    .venv/bin/python bench/uplift_bench.py [--rows 80000] [--effect 1.0]

Campaign 1: synthetic customers with known treatment effects (``model.uplift.true_effects``); the
customers at churn risk >= 25% are targeted, 10% of them held out as control (as churndb does), the
outcomes simulated.  A T-learner is fitted on 70% of the targeted customers and evaluated on the other
30%: Qini of uplift ranking, of churn-risk ranking and of the oracle (true effects) on the same rows.

Campaign 2: a fresh population and a budget of K contacts (the customers at churn risk >= 50%): the
expected number of customers saved, by the true effects, when the K are picked by churn risk, by
predicted uplift, at random, and by the oracle.
"""

from __future__ import annotations

import argparse

import numpy as np

from churndb.model import telecom
from churndb.model.sample import generate
from churndb.model.uplift import TLearner, compare, qini, simulate_campaign, true_effects


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=80_000)
    parser.add_argument("--effect", type=float, default=1.0, help="1 = the generator's effects, 0 = none")
    args = parser.parse_args()
    rng = np.random.default_rng(7)

    first = generate(args.rows, seed=31)
    effects = true_effects(first, seed=31, effect=args.effect)
    print("types:", effects["type"].value_counts(normalize=True).round(3).to_dict())
    targeted = (effects["p_control"] >= 0.25).to_numpy()
    control = rng.random(args.rows) < 0.10
    treated = targeted & ~control
    churned = simulate_campaign(effects, treated, seed=32)
    rows = np.flatnonzero(targeted)
    holdout = rng.random(len(rows)) < 0.3
    fit_rows, test_rows = rows[~holdout], rows[holdout]
    model = TLearner(telecom.CATEGORICAL, telecom.NUMERIC, seed=1).fit(
        first.iloc[fit_rows], treated[fit_rows], churned[fit_rows])
    test = first.iloc[test_rows]
    uplift = model.uplift(test)
    risk = model.churn_if_not_contacted(test)
    result = compare(uplift, risk, treated[test_rows], churned[test_rows])
    oracle = qini(effects["true_uplift"].to_numpy()[test_rows], treated[test_rows], churned[test_rows])
    print(f"campaign 1: {targeted.sum():,} targeted ({(targeted & control).sum():,} control); hold-out "
          f"{len(test_rows):,}")
    print(f"  Qini: uplift model {result.qini_uplift:+.4f}  churn-risk ranking {result.qini_risk:+.4f}  "
          f"oracle {oracle['coefficient']:+.4f}; difference 95% interval [{result.difference_low:+.4f}, "
          f"{result.difference_high:+.4f}] -> used for targeting: {result.used_for_targeting}")

    second = generate(args.rows, seed=41)
    truth = true_effects(second, seed=41, effect=args.effect)["true_uplift"].to_numpy()
    risk2 = model.churn_if_not_contacted(second)
    k = int((risk2 >= 0.5).sum())
    picks = {"churn risk": np.argsort(-risk2)[:k], "predicted uplift": np.argsort(-model.uplift(second))[:k],
             "random": rng.choice(len(second), k, replace=False), "oracle": np.argsort(-truth)[:k]}
    print(f"campaign 2: budget {k:,} contacts; expected customers saved (true effects):")
    for name, chosen in picks.items():
        print(f"  by {name:<17} {truth[chosen].sum():8.1f}")


if __name__ == "__main__":
    main()
