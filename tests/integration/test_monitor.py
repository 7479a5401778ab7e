"""Each alert rule fires when its condition holds and stays quiet when it does not."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from churndb.model.sample import generate
from tests.conftest import run_score


@pytest.fixture(autouse=True)
def _outcomes_that_mature_later(monkeypatch):
    """These tests replay outcome feeds that cover the 90 days after the fixture's 2026-09-30 snapshot,
    i.e. dated up to early 2027: allow data dated that far ahead of the real clock."""
    monkeypatch.setenv("CHURNDB_MAX_FUTURE_DAYS", "400")


@pytest.fixture
def thresholds(tmp_path, monkeypatch):
    def set_limits(**limits):
        path = tmp_path / "churndb.toml"
        path.write_text("[monitor]\n" + "".join(f"{k} = {v}\n" for k, v in limits.items()))
        monkeypatch.setenv("CHURNDB_CONFIG", str(path))
    return set_limits


def _monitor(cli):
    res = cli("monitor", "--json")
    assert res.code == 0, res.err
    return res.json


def _rules(out):
    return {a["rule"] for a in out["alerts"]}



def test_mean_score_rule(cli, trained_conn, thresholds):
    run_score(cli)
    thresholds(roi_min=0)
    out = _monitor(cli)
    assert "mean_score" not in _rules(out)            # mean score ~30 of 100
    assert 0 < out["metrics"]["mean_risk_score"] < 50
    thresholds(roi_min=0, mean_score_max=10)
    out = _monitor(cli)
    assert "mean_score" in _rules(out)
    assert trained_conn.execute("SELECT count(*) FROM alerts WHERE rule = 'mean_score'").fetchone()[0] == 1


def test_segment_shift_rule(cli, trained_conn, thresholds):
    thresholds(roi_min=0)
    run_score(cli)
    run_score(cli)
    assert "segment_shift" not in _rules(_monitor(cli))  # same data, same model: no shift
    # New policy: Critical from 55 -> many customers move category.
    trained_conn.execute("""
        WITH p AS (INSERT INTO segment_policy (effective_from, success_rate, value_horizon_months, control_share)
                   VALUES (now(), 0.4, 12, 0.1) RETURNING policy_version)
        INSERT INTO segment_policy_bands SELECT p.policy_version, b.risk_category,
               CASE b.risk_category WHEN 'Critical' THEN 55 WHEN 'High' THEN 50 ELSE b.min_score END,
               CASE b.risk_category WHEN 'High' THEN 54 ELSE b.max_score END,
               b.retention_action, b.intervention_cost, b.targeted
        FROM p, segment_policy_bands b WHERE b.policy_version = 1""")
    run_score(cli)
    out = _monitor(cli)
    assert "segment_shift" in _rules(out)
    assert any("Critical share moved +" in a["message"] for a in out["alerts"])


def test_projected_roi_rule(cli, trained_db_url, thresholds):
    run_score(cli)
    thresholds(roi_min=0.01)
    out = _monitor(cli)
    roi = out["metrics"]["projected_roi"]
    assert "projected_roi" not in _rules(out) and roi > 0.01
    thresholds(roi_min=roi + 1)
    assert "projected_roi" in _rules(_monitor(cli))


def test_feature_drift_rule(cli, trained_conn, write_csv, thresholds):
    thresholds(roi_min=0)
    run_score(cli)
    out = _monitor(cli)
    assert "feature_drift" not in _rules(out)          # the scored snapshot is the training data
    # A new snapshot in which tenure and complaints have shifted markedly.
    shifted = generate(5_000, seed=17)
    shifted["tenure_months"] = shifted["tenure_months"] * 3 + 24
    shifted["num_complaints_3m"] = shifted["num_complaints_3m"] + 3
    shifted["num_complaints_12m"] = shifted["num_complaints_12m"] + 3
    assert cli("ingest", write_csv(shifted.to_csv(index=False)), "--as-of", "2026-10-31").code == 0
    run_score(cli)
    out = _monitor(cli)
    drift = [a for a in out["alerts"] if a["rule"] == "feature_drift"]
    assert any("tenure_months" in a["message"] and a["severity"] == "critical" for a in drift)
    assert not any("gender" in a["message"] for a in drift)
    assert out["metrics"]["psi:tenure_months"] > 0.2 > out["metrics"]["psi:gender"]


def _feed(trained_conn, write_csv, cli, *, truthful: bool, seed=3):
    """An outcome feed 120 days after the scored snapshot: churn dates within the 90-day window."""
    rows = trained_conn.execute(
        "SELECT s.customer_id, o.churned FROM customer_snapshots s JOIN churn_outcomes o "
        "ON o.customer_id = s.customer_id AND o.observed_as_of = s.as_of_date").fetchall()
    ids = np.array([r[0] for r in rows])
    churned = np.array([r[1] for r in rows])
    if not truthful:
        churned = np.random.default_rng(seed).permutation(churned)
    snapshot = dt.date(2026, 9, 30)
    feed = pd.DataFrame({"customer_id": ids, "churned": churned.astype(int),
                         "churned_on": [str(snapshot + dt.timedelta(days=30)) if c else "" for c in churned]})
    res = cli("outcomes", "load", write_csv(feed.to_csv(index=False)), "--as-of", "2027-01-28", "--json")
    assert res.code == 0, res.err
    return res.json


def test_matured_accuracy_and_auc_rules(cli, trained_conn, write_csv, thresholds):
    thresholds(roi_min=0, accuracy_min=0.5)
    run_score(cli, "--as-of", "2026-09-30")
    _feed(trained_conn, write_csv, cli, truthful=True)
    out = _monitor(cli)
    assert not {"matured_accuracy", "matured_auc"} & _rules(out)
    perf = trained_conn.execute("SELECT auc, holdout_auc, count(*) FROM v_model_performance "
                                "GROUP BY auc, holdout_auc").fetchone()
    assert perf[2] == 10 and perf[0] > perf[1] - 0.03   # the fixture's model scored its own data: no drop
    thresholds(roi_min=0, accuracy_min=0.99)
    assert "matured_accuracy" in _rules(_monitor(cli))


def test_matured_auc_drop_is_caught(cli, trained_conn, write_csv, thresholds):
    thresholds(roi_min=0, accuracy_min=0)
    run_score(cli, "--as-of", "2026-09-30")
    _feed(trained_conn, write_csv, cli, truthful=False)   # outcomes unrelated to the scores
    out = _monitor(cli)
    assert "matured_auc" in _rules(out)
    assert trained_conn.execute("SELECT max(auc) FROM v_model_performance").fetchone()[0] < 0.6


def test_outcome_feed_quarantines_bad_rows(cli, db_url, write_csv, conn):
    text = ("customer_id,churned,churned_on\n1,1,2026-10-01\n2,0,\n3,1,\n4,maybe,\nx,0,\n5,1,2099-01-01\n"
            "6,0,not-a-date\n")
    res = cli("outcomes", "load", write_csv(text), "--as-of", "2026-12-31", "--json")
    assert res.code == 0, res.err
    out = res.json
    assert (out["rows_in"], out["rows_loaded"], out["rows_rejected"]) == (7, 2, 5)
    reasons = [r[0] for r in conn.execute("SELECT reason FROM rejected_rows ORDER BY line_number").fetchall()]
    assert any("without a churned_on date" in r for r in reasons)
    assert any("after the feed's as-of date" in r for r in reasons)
    assert any("not a date" in r for r in reasons)
    assert conn.execute("SELECT count(*) FROM churn_outcomes WHERE source = 'feed'").fetchone()[0] == 2


def test_realized_roi_says_not_enough_data_then_measures(cli, trained_conn, write_csv):
    run_score(cli)
    targets = trained_conn.execute("SELECT customer_id, treatment_group, campaign_id FROM retention_targets "
                                   "WHERE is_current").fetchall()
    campaign = targets[0][2]
    few = pd.DataFrame({"customer_id": [t[0] for t in targets[:20]], "churned": 0, "campaign_id": campaign,
                        "contacted_at": "2026-11-01"})
    assert cli("outcomes", "load", write_csv(few.to_csv(index=False)), "--as-of", "2026-12-31").code == 0
    row = trained_conn.execute("SELECT status, uplift, roi FROM v_roi_realized WHERE risk_category = 'All'").fetchone()
    assert row == ("not enough data", None, None)
    rng = np.random.default_rng(0)
    treat = np.array([t[1] == "treatment" for t in targets])
    churned = np.where(treat, rng.random(len(targets)) < 0.2, rng.random(len(targets)) < 0.4)
    feed = pd.DataFrame({"customer_id": [t[0] for t in targets], "churned": churned.astype(int),
                         "churned_on": np.where(churned, "2026-12-01", ""), "campaign_id": campaign,
                         "contacted_at": np.where(treat, "2026-11-01", "")})
    assert cli("outcomes", "load", write_csv(feed.to_csv(index=False)), "--as-of", "2026-12-31").code == 0
    status, treated, control, uplift, low, high = trained_conn.execute(
        "SELECT status, treated, control, uplift, uplift_low, uplift_high FROM v_roi_realized "
        "WHERE risk_category = 'All'").fetchone()
    assert status == "measured" and treated == treat.sum() and control == (~treat).sum()
    assert low < uplift < high and 0.1 < uplift < 0.3
