"""Reason codes explain the published probability: the ensemble's log-odds, split over the features."""

import numpy as np
import pytest

from churndb.model import reasons, telecom
from churndb.model.ensemble import DEFAULT_HYPERPARAMETERS
from churndb.model.predictor import ChurnModel
from churndb.model.sample import generate


@pytest.fixture(scope="module")
def fitted():
    hyper = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULT_HYPERPARAMETERS.items()}
    for name in ("xgboost", "random_forest", "lightgbm"):
        hyper[name]["n_estimators"] = 30
    hyper["cv_folds"] = 3
    frame = generate(4_000, seed=11)
    model = ChurnModel.build(telecom.CATEGORICAL, telecom.NUMERIC, hyper, 7).fit(frame, frame["is_churn"].to_numpy())
    return model, model.matrix(generate(1_500, seed=12))


@pytest.mark.parametrize("method", ["path", "treeshap"])
def test_contributions_add_up_to_the_published_log_odds_of_every_customer(fitted, method):
    model, matrix = fitted
    base, contrib = reasons.contributions(model, matrix, method)
    p = model.probability(matrix)
    assert np.abs(base + contrib.sum(axis=1) - np.log(p / (1 - p))).max() < 1e-4


def test_every_member_counts_with_its_meta_learner_weight(fitted):
    model, matrix = fitted
    _, contrib = reasons.contributions(model, matrix)
    weights = dict(zip(model.member_names, model.stack.final_estimator_.coef_[0]))
    members = reasons.member_contributions(model, matrix)
    combined = sum(weights[name] * c for name, (_, c) in members.items())
    assert np.allclose(contrib, combined)
    assert all(np.abs(c).sum() > 0 for _, c in members.values())


def test_top_reasons_raise_risk_strongest_first_and_name_the_features(fitted):
    model, matrix = fitted
    found = reasons.top_reasons(model, matrix[:200])
    assert any(found)
    for customer in found:
        values = [r["contribution"] for r in customer]
        assert values == sorted(values, reverse=True) and all(v > 0 for v in values) and len(customer) <= 3
        assert {r["feature"] for r in customer} <= set(model.feature_names)
