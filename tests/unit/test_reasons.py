"""Reason codes explain the published probability: the ensemble's log-odds, split over the features."""

import json

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

from churndb.model import reasons, telecom
from churndb.model.ensemble import DEFAULT_HYPERPARAMETERS
from churndb.model.features import meaning
from churndb.model.predictor import ChurnModel
from churndb.model.sample import generate


def _fit(scikit_learn_forest: bool = False):
    hyper = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULT_HYPERPARAMETERS.items()}
    for name in ("xgboost", "random_forest", "lightgbm"):
        hyper[name]["n_estimators"] = 30
    hyper["cv_folds"] = 3
    frame = generate(4_000, seed=11)
    model = ChurnModel.build(telecom.CATEGORICAL, telecom.NUMERIC, hyper, 7)
    if scikit_learn_forest:  # as in models trained before the forest became XGBoost's
        members = [(name, RandomForestClassifier(n_estimators=30, max_depth=12, random_state=7)
                    if name == "random_forest" else est) for name, est in model.stack.estimators]
        model.stack.set_params(estimators=members)
    model.fit(frame, frame["is_churn"].to_numpy())
    return model, model.matrix(generate(1_500, seed=12))


@pytest.fixture(scope="module")
def fitted():
    return _fit()


@pytest.fixture(scope="module")
def fitted_before():
    """A model whose forest is scikit-learn's, as stored model versions from before still are."""
    return _fit(scikit_learn_forest=True)


@pytest.mark.parametrize("method", ["path", "treeshap"])
def test_contributions_add_up_to_the_published_log_odds_of_every_customer(fitted, method):
    model, matrix = fitted
    base, contrib = reasons.contributions(model, matrix, method)
    p = model.probability(matrix)
    assert np.abs(base + contrib.sum(axis=1) - np.log(p / (1 - p))).max() < 1e-4


@pytest.mark.parametrize("method", ["path", "treeshap"])
def test_a_stored_model_with_a_scikit_learn_forest_is_still_explained_exactly(fitted_before, method):
    model, matrix = fitted_before
    assert isinstance(model.member("random_forest"), RandomForestClassifier)
    base, contrib = reasons.contributions(model, matrix, method)
    p = model.probability(matrix)
    assert np.abs(base + contrib.sum(axis=1) - np.log(p / (1 - p))).max() < 1e-4
    assert np.abs(reasons.member_contributions(model, matrix, method)["random_forest"][1]).sum() > 0


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


def test_lightgbm_path_attribution_credits_each_split_on_the_customers_path(fitted):
    """The leaf table's sparse product against the definition, walked customer by customer: along the
    path from the root to the leaf, each split's change of node value goes to the split's feature."""
    model, matrix = fitted
    rows = matrix[:40]
    member = model.member("lightgbm")
    _, split = reasons.member_contributions(model, rows)["lightgbm"]
    nodes = member.booster_.trees_to_dataframe().set_index("node_index")
    leaves = member.booster_.predict(rows, pred_leaf=True)
    expected = np.zeros_like(split)
    for i, row_leaves in enumerate(leaves):
        for tree, leaf in enumerate(row_leaves):
            node = f"{tree}-L{int(leaf)}"
            while isinstance(nodes.at[node, "parent_index"], str):
                up = nodes.at[node, "parent_index"]
                feature = int(nodes.at[up, "split_feature"].removeprefix("Column_"))
                expected[i, feature] += nodes.at[node, "value"] - nodes.at[up, "value"]
                node = up
    assert np.allclose(split, expected, atol=1e-9)


def test_the_stored_json_says_what_top_reasons_says_for_every_customer(fitted):
    model, matrix = fitted
    names = model.feature_names
    texts = reasons.reasons_json(reasons.ranked(model, matrix), names, [meaning(n) for n in names])
    assert [json.loads(t) for t in texts] == reasons.top_reasons(model, matrix)


def test_the_stored_json_carries_any_header_and_category_and_unknown_values_as_null():
    names = ['tarif "plus"', "Kündigung\\Frist\n", '{"x": 1}, ]']
    ranked = reasons.Ranked(feature=np.array([[0, 1, 2], [1, 2, 0], [2, 0, 1]]),
                            contribution=np.array([[0.5, 0.25, 0.1], [1e-05, -0.2, -0.3], [-0.1, -0.2, -0.3]]),
                            value=np.array([[1.0, 1.0, np.inf], [5.0, 0.0, 3.0], [1.0, 2.0, 3.0]]),
                            raising=np.array([3, 1, 0]))
    texts = reasons.reasons_json(ranked, names, names, categories={0: ["basic", "plus"], 1: ['niedrig "low"', "hoch"]})
    parsed = [json.loads(t) for t in texts]
    assert parsed[0] == [
        {"feature": names[0], "direction": "raises risk", "contribution": 0.5, "value": "plus", "meaning": names[0]},
        {"feature": names[1], "direction": "raises risk", "contribution": 0.25, "value": "hoch", "meaning": names[1]},
        {"feature": names[2], "direction": "raises risk", "contribution": 0.1, "value": None, "meaning": names[2]}]
    # a code that names no category (5) is unknown, not another category
    assert parsed[1] == [{"feature": names[1], "direction": "raises risk", "contribution": 1e-05, "value": None,
                          "meaning": names[1]}]
    assert parsed[2] == []


def test_the_offer_is_the_playbook_of_the_strongest_raising_reason_that_has_one():
    from churndb.scoring.pipeline import suggested_offers

    names = ["contract", "tenure", "complaints", "nps"]
    found = reasons.Ranked(feature=np.array([[0, 1, 2], [2, 1, 3], [3, 0, 2], [0, 3, 1]]),
                           contribution=np.ones((4, 3)), value=np.ones((4, 3)), raising=np.array([3, 3, 1, 3]))
    playbooks = {"tenure": "loyalty discount", "complaints": "service call", "nps": "survey follow-up"}
    assert suggested_offers(found, names, playbooks).tolist() == [
        "loyalty discount",   # contract has no playbook: the next reason's
        "service call",       # the strongest reason's
        "survey follow-up",   # only the first raises the risk, and it has one
        "survey follow-up"]
    only_first = reasons.Ranked(found.feature[[2]], found.contribution[[2]], found.value[[2]], np.array([1]))
    assert suggested_offers(only_first, names, {"contract": "x"}).tolist() == [None]  # contract does not raise it
