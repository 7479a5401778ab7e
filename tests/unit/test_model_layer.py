"""The pure model layer, without a database: features, policy bands, metrics, drift and ROI.

Expected values are worked out by hand from the definitions (README, docstrings), not read back
from the code under test."""

import math

import numpy as np
import pandas as pd
import pytest

from churndb.base.errors import ChurnDBError, InputError
from churndb.model import drift, roi
from churndb.model.bands import Band, Policy, risk_scores
from churndb.model.features import FeaturePipeline
from churndb.model.metrics import classification_metrics, expected_calibration_error


def _policy(horizon=12):
    bands = (Band("Critical", 75, 100, "Urgent intervention", 150.0, True),
             Band("High", 50, 74, "VIP retention program", 75.0, True),
             Band("Medium", 25, 49, "Enhanced engagement offers", 25.0, True),
             Band("Low", 0, 24, "Standard monitoring", 0.0, False))
    return Policy(1, 0.4, horizon, 0.1, None, None, {}, bands)


# ---- features --------------------------------------------------------------------------------------------
def _frame(**overrides):
    row = {"plan": "Gold", "tenure_months": 10.0, "total_charges": 500.0, "monthly_charges": 80.0}
    row.update(overrides)
    return pd.DataFrame([row])


def test_unseen_or_missing_categories_become_nan_not_a_made_up_code():
    pipe = FeaturePipeline(categorical=("plan",), numeric=("tenure_months",), derived=False)
    pipe.fit(pd.concat([_frame(plan="Gold"), _frame(plan="Silver")]))
    out = pipe.transform(pd.concat([_frame(plan="Gold"), _frame(plan="Platinum"), _frame(plan=None)]))
    assert out[0, 0] == 0.0  # 'Gold' sorts before 'Silver'
    assert math.isnan(out[1, 0]) and math.isnan(out[2, 0])


def test_derived_spend_per_month_of_tenure_is_computed_from_the_row():
    pipe = FeaturePipeline(numeric=("tenure_months", "total_charges", "monthly_charges"))
    pipe.fit(_frame())
    names = list(pipe.get_feature_names_out())
    row = pipe.transform(_frame(tenure_months=0.0, total_charges=90.0))[0]
    assert row[names.index("avg_monthly_spend")] == 90.0  # tenure 0 counts as one month, never a division by 0
    assert row[names.index("early_tenure")] == 1.0


def test_a_missing_input_column_is_one_clear_error():
    pipe = FeaturePipeline(numeric=("tenure_months", "total_charges")).fit(_frame())
    with pytest.raises(InputError, match="missing input column.*total_charges"):
        pipe.transform(_frame().drop(columns="total_charges"))


# ---- policy bands ----------------------------------------------------------------------------------------
def test_scores_fall_into_the_documented_bands_at_their_edges():
    p = np.array([0.75, 0.7499, 0.50, 0.4999, 0.25, 0.2499, 0.0, 1.0])
    scored = _policy().apply(p, np.full(len(p), 100.0))
    assert scored["risk_score"].tolist() == [75, 74, 50, 49, 25, 24, 0, 100]
    assert scored["risk_category"].tolist() == ["Critical", "High", "High", "Medium", "Medium", "Low", "Low",
                                                "Critical"]
    assert scored["estimated_intervention_cost"].tolist() == [150, 75, 75, 25, 25, 0, 0, 150]


def test_revenue_at_risk_is_probability_times_monthly_charges_times_horizon():
    scored = _policy(horizon=12).apply(np.array([0.5]), np.array([80.0]))
    assert scored["estimated_revenue_at_risk"].iloc[0] == pytest.approx(0.5 * 80.0 * 12)


def test_a_policy_with_a_gap_refuses_to_score():
    policy = _policy()
    gapped = Policy(2, 0.4, 12, 0.1, None, None, {}, policy.bands[:2])
    with pytest.raises(ChurnDBError, match="no band"):
        gapped.apply(np.array([0.3]), np.array([10.0]))


def test_segment_names_and_priorities_come_from_the_bands():
    policy = _policy()
    assert policy.categories == ("critical", "high", "medium", "low")
    assert policy.priority_categories == ("critical", "high")
    assert risk_scores(np.array([0.999999])).tolist() == [99]


# ---- metrics ---------------------------------------------------------------------------------------------
def test_calibration_error_of_a_constant_forecast():
    y = np.array([0, 0, 0, 0, 1])
    assert expected_calibration_error(y, np.full(5, 0.2)) == pytest.approx(0.0)
    assert expected_calibration_error(y, np.full(5, 0.9)) == pytest.approx(0.7)


def test_confusion_matrix_and_rates_at_the_threshold():
    y = np.array([1, 1, 0, 0, 1, 0])
    p = np.array([0.9, 0.4, 0.6, 0.1, 0.7, 0.2])
    m = classification_metrics(y, p, threshold=0.5)
    assert m["confusion_matrix"] == {"tn": 2, "fp": 1, "fn": 1, "tp": 2}
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["accuracy"] == pytest.approx(4 / 6)
    # AUC: of the 9 (churner, stayer) pairs, the churner ranks higher in 8 (0.4 < 0.6 is the one miss).
    assert m["auc"] == pytest.approx(8 / 9)


# ---- drift -----------------------------------------------------------------------------------------------
def test_psi_is_zero_for_the_same_shares_and_matches_the_formula_otherwise():
    assert drift.psi([0.5, 0.5], [0.5, 0.5]) == pytest.approx(0.0)
    expected = (0.9 - 0.5) * math.log(0.9 / 0.5) + (0.1 - 0.5) * math.log(0.1 / 0.5)
    assert drift.psi([0.5, 0.5], [0.9, 0.1]) == pytest.approx(expected)


def test_counts_put_unseen_categories_in_other_and_blanks_in_missing():
    counts = drift.categorical_counts(pd.Series(["a", "b", "zzz", None, "a"]), ["a", "b"])
    assert counts.tolist() == [2, 1, 1, 1]  # a, b, other, missing
    numeric = drift.numeric_counts(pd.Series([1.0, 5.0, 10.0, None]), [2.0, 8.0])
    assert numeric.tolist() == [1, 1, 1, 1]  # <= 2, (2, 8], > 8, missing


# ---- ROI -------------------------------------------------------------------------------------------------
def test_program_roi_is_net_benefit_over_cost():
    rows = [{"targeted": 10, "contacted": 9, "program_cost": 100.0, "expected_retained": 2.0,
             "expected_revenue_saved": 300.0, "contacted_revenue_at_risk": 750.0, "horizon_months": 12},
            {"targeted": 5, "contacted": 5, "program_cost": 50.0, "expected_retained": 1.0,
             "expected_revenue_saved": 100.0, "contacted_revenue_at_risk": 250.0, "horizon_months": 12}]
    out = roi.summarize(rows)
    assert out["program_cost"] == 150.0 and out["net_benefit"] == 250.0
    assert out["roi"] == pytest.approx(250.0 / 150.0, abs=1e-4)
    assert out["break_even_success_rate"] == pytest.approx(150.0 / 1000.0)
    assert out["monthly_net_benefit"] == pytest.approx(250.0 / 12, abs=0.01)
    assert roi.summarize([])["roi"] is None


def test_stable_positions_are_the_siphash_of_campaign_and_customer_as_python_writes_them():
    """Control groups, offer arms and uplift hold-outs must never move between releases: the position is
    the 16-byte-keyed siphash of "<campaign>:<customer>", the customer written as Python writes it."""
    from churndb.model.bands import stable_position

    def rule(ids, campaign, key):
        text = pd.Series([f"{campaign}:{c}" for c in ids], dtype=object)
        return pd.util.hash_pandas_object(text, index=False, hash_key=key).to_numpy(np.uint64) / 2.0**64

    key = "churndb-control1"
    for ids in (np.arange(1, 5_001, dtype=np.int64) * 7919, np.array([1, 2**62, 10**12], dtype=object),
                np.array(["0042", "ABC-7", "kunde-ü", "a:b", ""], dtype=object), [3, 1, 2]):
        assert np.array_equal(stable_position(ids, "2026-Q4", key), rule(ids, "2026-Q4", key))
    assert np.array_equal(stable_position(np.array([1.0, 2.5]), "c", key), rule([1.0, 2.5], "c", key))
    mixed = np.array([7, "07", 7.0], dtype=object)
    assert np.array_equal(stable_position(mixed, "c", key), rule(mixed, "c", key))
    assert len(stable_position(np.array([], dtype=np.int64), "c", key)) == 0
