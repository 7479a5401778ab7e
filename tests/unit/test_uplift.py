"""Uplift against ground truth: the synthetic generator knows every customer's treatment effect."""

import numpy as np

from churndb.model import telecom
from churndb.model.sample import generate
from churndb.model.uplift import TLearner, compare, qini, simulate_campaign, true_effects


def _campaign(rows, effect, seed):
    """A campaign as churndb runs one: customers at risk >= 25% targeted, 10% of them held out as control."""
    rng = np.random.default_rng(seed)
    frame = generate(rows, seed=seed)
    effects = true_effects(frame, seed=seed, effect=effect)
    targeted = (effects["p_control"] >= 0.25).to_numpy()
    treated = targeted & ~(rng.random(rows) < 0.10)
    churned = simulate_campaign(effects, treated, seed=seed + 1)
    rows_ = np.flatnonzero(targeted)
    holdout = rng.random(len(rows_)) < 0.3
    model = TLearner(telecom.CATEGORICAL, telecom.NUMERIC, seed=1).fit(
        frame.iloc[rows_[~holdout]], treated[rows_[~holdout]], churned[rows_[~holdout]])
    test = rows_[holdout]
    result = compare(model.uplift(frame.iloc[test]), model.churn_if_not_contacted(frame.iloc[test]),
                     treated[test], churned[test])
    oracle = qini(effects["true_uplift"].to_numpy()[test], treated[test], churned[test])["coefficient"]
    return result, oracle


def test_the_generator_has_every_kind_of_customer_in_plausible_shares():
    shares = true_effects(generate(20_000, seed=3), seed=3)["type"].value_counts(normalize=True)
    assert set(shares.index) == {"persuadable", "sure_thing", "lost_cause", "do_not_disturb"}
    assert 0.15 < shares["persuadable"] < 0.45 and shares["do_not_disturb"] > 0.01


def test_with_real_effects_the_uplift_model_beats_risk_ranking_and_agrees_with_the_oracle():
    result, oracle = _campaign(80_000, effect=1.0, seed=31)
    assert result.used_for_targeting and result.qini_uplift > result.qini_risk
    assert oracle > 0 and result.qini_uplift > 0 and result.qini_uplift > oracle / 4  # same sign, rough size


def test_with_no_effect_at_all_the_uplift_model_is_not_used():
    result, _ = _campaign(40_000, effect=0.0, seed=17)
    assert not result.used_for_targeting and result.difference_low <= 0 <= result.difference_high
