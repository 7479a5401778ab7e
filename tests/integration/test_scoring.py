"""The main job: score everyone, publish whole, hand the CRM its targets."""

import math
import time

import pandas as pd
import pytest

from churndb import ChurnScorer
from tests.conftest import TRAINED_ROWS, run_score


def _one(conn, sql, *params):
    return conn.execute(sql, params).fetchone()[0]



def test_score_publishes_every_customer_with_policy_categories(cli, trained_conn):
    out = run_score(cli)
    assert out["customers_scored"] == TRAINED_ROWS == sum(out["segments"].values())
    assert set(out["segments"]) == {"critical", "high", "medium", "low"}
    assert set(out["stage_seconds"]) == {"read", "transform", "predict", "reasons", "write", "targets", "publish"}
    run = trained_conn.execute("SELECT status, customers_scored, targets, model_version FROM scoring_runs "
                               "WHERE run_id = %s", (out["run_id"],)).fetchone()
    assert run == ("succeeded", TRAINED_ROWS, out["targets"], 1)
    rows = trained_conn.execute(
        "SELECT h.churn_probability, h.risk_score, h.risk_category, h.retention_action, "
        "h.estimated_intervention_cost::float8, h.estimated_revenue_at_risk::float8, s.monthly_charges::float8 "
        "FROM score_history h JOIN customer_snapshots s ON s.customer_id = h.customer_id "
        "AND s.as_of_date = h.snapshot_date WHERE h.run_id = %s", (out["run_id"],)).fetchall()
    bands = trained_conn.execute("SELECT risk_category, min_score, max_score, retention_action, "
                                 "intervention_cost::float8 FROM segment_policy_bands WHERE policy_version = 1").fetchall()
    assert len(rows) == TRAINED_ROWS
    for p, score, category, action, cost, at_risk, charges in rows:
        assert score == math.floor(p * 100)
        band = next(b for b in bands if b[1] <= score <= b[2])
        assert (category, action, cost) == (band[0], band[3], band[4])
        assert at_risk == pytest.approx(p * charges * 12, abs=0.006)


def test_targets_one_row_per_targeted_customer_with_reasons_and_offers(cli, trained_conn):
    out = run_score(cli)
    targeted = _one(trained_conn, "SELECT count(*) FROM score_history WHERE run_id = %s AND "
                                  "estimated_intervention_cost > 0", out["run_id"])
    assert _one(trained_conn, "SELECT count(*) FROM retention_targets WHERE is_current") == targeted == out["targets"]
    assert _one(trained_conn, "SELECT count(DISTINCT customer_id) FROM retention_targets") == targeted
    # Reasons for the customers the CRM contacts; the control group is not contacted and gets none.
    reasons = trained_conn.execute("SELECT top_reasons, suggested_offer FROM retention_targets "
                                   "WHERE treatment_group = 'treatment'").fetchall()
    assert _one(trained_conn, "SELECT count(*) FROM retention_targets WHERE treatment_group = 'control' "
                              "AND top_reasons IS NOT NULL") == 0
    # ... and they are the reasons the run's history holds for the same customer (the CRM and the audit agree)
    assert _one(trained_conn, "SELECT count(*) FROM retention_targets t JOIN score_history h USING (run_id, customer_id) "
                              "WHERE t.top_reasons IS DISTINCT FROM h.top_reasons") == 0
    features = set(trained_conn.execute("SELECT feature_spec -> 'features' FROM model_versions "
                                        "WHERE model_version = 1").fetchone()[0])
    assert reasons and all(1 <= len(r) <= 3 for r, _ in reasons)
    for r, _ in reasons:
        assert {x["feature"] for x in r} <= features
        contributions = [x["contribution"] for x in r]
        assert contributions == sorted(contributions, reverse=True) and min(contributions) > 0
    assert sum(offer is not None for _, offer in reasons) > 0.5 * len(reasons)


def test_control_group_is_about_ten_percent_and_stable(cli, trained_conn):
    run_score(cli)
    first = dict(trained_conn.execute("SELECT customer_id, treatment_group FROM retention_targets").fetchall())
    share = sum(g == "control" for g in first.values()) / len(first)
    assert 0.07 < share < 0.13
    run_score(cli)
    second = dict(trained_conn.execute("SELECT customer_id, treatment_group FROM retention_targets").fetchall())
    assert second == first
    run_score(cli, "--campaign", "2027-Q1")
    third = dict(trained_conn.execute("SELECT customer_id, treatment_group FROM retention_targets").fetchall())
    assert third != first, "a new campaign draws a new control group"


def test_rescore_keeps_crm_columns_and_marks_dropped_customers(cli, trained_conn):
    first = run_score(cli)
    trained_conn.execute("UPDATE retention_targets SET crm_status = 'contacted', crm_notes = 'called Tue', "
                         "crm_updated_at = '2026-11-01' WHERE risk_category = 'Critical'")
    crm_rows = trained_conn.execute("SELECT customer_id, crm_status, crm_notes, crm_updated_at FROM retention_targets "
                                    "WHERE crm_status = 'contacted' ORDER BY 1").fetchall()
    assert crm_rows
    # A new policy version: Medium is no longer worth contacting.
    trained_conn.execute("""
        WITH p AS (INSERT INTO segment_policy (effective_from, success_rate, value_horizon_months, control_share)
                   VALUES (now(), 0.4, 12, 0.1) RETURNING policy_version)
        INSERT INTO segment_policy_bands SELECT p.policy_version, b.risk_category, b.min_score, b.max_score,
               b.retention_action, b.intervention_cost, b.risk_category <> 'Medium' AND b.targeted
        FROM p, segment_policy_bands b WHERE b.policy_version = 1""")
    second = run_score(cli)
    assert second["policy_version"] == 2
    assert trained_conn.execute("SELECT customer_id, crm_status, crm_notes, crm_updated_at FROM retention_targets "
                                "WHERE crm_status = 'contacted' ORDER BY 1").fetchall() == crm_rows
    assert _one(trained_conn, "SELECT count(*) FROM retention_targets WHERE is_current AND run_id <> %s",
                second["run_id"]) == 0
    dropped = trained_conn.execute("SELECT count(*), bool_and(dropped_at IS NOT NULL) FROM retention_targets "
                                   "WHERE risk_category = 'Medium' AND NOT is_current").fetchone()
    assert dropped[0] > 0 and dropped[1]
    # History of the first run is untouched by the new policy.
    assert _one(trained_conn, "SELECT count(*) FROM score_history WHERE run_id = %s AND risk_category = 'Medium' "
                              "AND estimated_intervention_cost = 25", first["run_id"]) == first["segments"]["medium"]


def test_budget_caps_pick_highest_expected_net_value(cli, trained_conn):
    trained_conn.execute("""
        WITH p AS (INSERT INTO segment_policy (effective_from, success_rate, value_horizon_months, control_share,
                   program_budget) VALUES (now(), 0.4, 12, 0.1, 20000) RETURNING policy_version)
        INSERT INTO segment_policy_bands SELECT p.policy_version, b.risk_category, b.min_score, b.max_score,
               b.retention_action, b.intervention_cost, b.targeted
        FROM p, segment_policy_bands b WHERE b.policy_version = 1""")
    out = run_score(cli)
    spent = _one(trained_conn, "SELECT sum(estimated_intervention_cost) FROM retention_targets WHERE is_current")
    assert 0 < spent <= 20000 and out["targets"] > 0
    cutoff = _one(trained_conn, "SELECT min(expected_net_value) FROM retention_targets WHERE is_current")
    # Nobody left out had a higher expected net value than the weakest customer kept.
    best_left_out = _one(trained_conn, """
        SELECT max(0.4 * h.estimated_revenue_at_risk - h.estimated_intervention_cost) FROM score_history h
        WHERE h.run_id = %s AND h.estimated_intervention_cost > 0
          AND NOT EXISTS (SELECT 1 FROM retention_targets t WHERE t.customer_id = h.customer_id AND t.is_current)""",
                         out["run_id"])
    assert best_left_out <= cutoff


def _policy_with_caps(conn, budget, capacity) -> None:
    conn.execute("""
        WITH p AS (INSERT INTO segment_policy (effective_from, success_rate, value_horizon_months, control_share,
                   program_budget, contact_capacity) VALUES (now(), 0.4, 12, 0.1, %s, %s) RETURNING policy_version)
        INSERT INTO segment_policy_bands SELECT p.policy_version, b.risk_category, b.min_score, b.max_score,
               b.retention_action, b.intervention_cost, b.targeted
        FROM p, segment_policy_bands b WHERE b.policy_version = 1""", (budget, capacity))


def _best_left_out(conn, run_id) -> float:
    return _one(conn, """
        SELECT max(0.4 * h.estimated_revenue_at_risk - h.estimated_intervention_cost) FROM score_history h
        WHERE h.run_id = %s AND h.estimated_intervention_cost > 0
          AND NOT EXISTS (SELECT 1 FROM retention_targets t WHERE t.customer_id = h.customer_id AND t.is_current)""",
                run_id)


def test_contact_capacity_keeps_exactly_that_many_with_the_highest_expected_net_value(cli, trained_conn):
    uncapped = run_score(cli)
    _policy_with_caps(trained_conn, None, 300)
    out = run_score(cli)
    assert uncapped["targets"] > 300 and out["targets"] == 300
    assert _one(trained_conn, "SELECT count(*) FROM retention_targets WHERE is_current") == 300
    cutoff = _one(trained_conn, "SELECT min(expected_net_value) FROM retention_targets WHERE is_current")
    assert _best_left_out(trained_conn, out["run_id"]) <= cutoff
    # with a budget as well: both hold, and still the best first
    _policy_with_caps(trained_conn, 15000, 300)
    both = run_score(cli)
    spent = _one(trained_conn, "SELECT sum(estimated_intervention_cost) FROM retention_targets WHERE is_current")
    assert 0 < both["targets"] <= 300 and 0 < spent <= 15000
    cutoff = _one(trained_conn, "SELECT min(expected_net_value) FROM retention_targets WHERE is_current")
    assert _best_left_out(trained_conn, both["run_id"]) <= cutoff


def test_score_customer_equals_the_publishedrun_score(cli, trained_db_url, trained_conn):
    out = run_score(cli)
    scorer = ChurnScorer.from_database()
    sample = pd.DataFrame(trained_conn.execute(
        "SELECT s.*, h.churn_probability AS published, h.risk_category AS published_category "
        "FROM score_history h JOIN customer_snapshots s ON s.customer_id = h.customer_id "
        "AND s.as_of_date = h.snapshot_date WHERE h.run_id = %s ORDER BY h.customer_id LIMIT 25",
        (out["run_id"],)).fetchall(), columns=None)
    cursor = trained_conn.execute("SELECT s.*, h.churn_probability, h.risk_category FROM score_history h "
                                  "JOIN customer_snapshots s ON s.customer_id = h.customer_id AND "
                                  "s.as_of_date = h.snapshot_date WHERE h.run_id = %s ORDER BY h.risk_score DESC "
                                  "LIMIT 25", (out["run_id"],))
    names = [d.name for d in cursor.description]
    for row in cursor.fetchall():
        record = dict(zip(names, row))
        published, category = record.pop("churn_probability"), record.pop("risk_category")
        result = scorer.score_customer(record)
        assert result["risk_probability"] == pytest.approx(published, abs=1e-6)
        assert result["risk_category"] == category
        assert len(result["top_reasons"]) >= 1
    assert len(sample) == 25


def test_exports_are_sorted_and_complete(cli, trained_conn, tmp_path):
    out = run_score(cli)
    total = 0
    for segment in ("critical", "high", "medium", "low"):
        res = cli("export", "--segment", segment, "--out", tmp_path / f"{segment}.csv", "--json")
        assert res.code == 0, res.err
        frame = pd.read_csv(tmp_path / f"{segment}.csv")
        assert len(frame) == res.json["rows"] == out["segments"][segment]
        assert (frame["risk_category"].str.lower() == segment).all()
        assert frame["risk_score"].is_monotonic_decreasing
        total += len(frame)
    everyone = pd.read_csv(tmp_path / "all.csv") if cli("export", "--segment", "all", "--out",
                                                      tmp_path / "all.csv").code == 0 else None
    assert total == len(everyone) == TRAINED_ROWS and everyone["customer_id"].is_unique
    assert {"tenure_months", "churn_probability", "risk_score", "retention_action", "estimated_intervention_cost",
            "estimated_revenue_at_risk", "treatment_group"} <= set(everyone.columns)


def test_report_figures_follow_from_the_run(cli, trained_conn, tmp_path):
    run_score(cli)
    res = cli("report", "--out", tmp_path / "rep", "--json")
    assert res.code == 0, res.err
    m = res.json["metrics"]
    text = (tmp_path / "rep" / "deployment_metrics.txt").read_text()
    contacted = trained_conn.execute(
        "SELECT sum(estimated_intervention_cost)::float8, sum(estimated_revenue_at_risk)::float8 * 0.4, count(*) "
        "FROM retention_targets WHERE is_current AND treatment_group = 'treatment'").fetchone()
    assert m["roi"]["program_cost"] == pytest.approx(contacted[0])
    assert m["roi"]["expected_revenue_saved"] == pytest.approx(contacted[1], abs=0.01)
    assert m["roi"]["roi"] == pytest.approx((contacted[1] - contacted[0]) / contacted[0], abs=1e-4)
    assert f"${contacted[0]:,.2f}" in text
    assert sum(s["customers"] for s in m["segments"]) == TRAINED_ROWS


def test_generate_report_matches_the_formula(trained_db_url):
    scorer = ChurnScorer.from_database()
    from churndb.model.sample import generate

    scored = scorer.score_batch(generate(2_000, seed=31))
    report = scorer.generate_report(scored)
    targeted = scored[scored["estimated_intervention_cost"] > 0]
    cost = targeted["estimated_intervention_cost"].sum()
    saved = 0.4 * (targeted["churn_probability"] * generate(2_000, seed=31).set_index("customer_id")
                   .loc[targeted["customer_id"], "monthly_charges"].to_numpy() * 12).sum()
    assert report["program_cost"] == pytest.approx(cost)
    assert report["expected_revenue_saved"] == pytest.approx(saved, rel=1e-4)
    assert report["expected_roi"] == pytest.approx((saved - cost) / cost, rel=1e-3)
    assert report["priority_interventions"] == int(scored["risk_category"].isin(["Critical", "High"]).sum())
    parts = scorer.segment_batch(scored)
    assert sum(len(p) for p in parts.values()) == len(scored)


def test_shadow_run_writes_history_only(cli, trained_conn):
    run_score(cli)
    before = trained_conn.execute("SELECT customer_id, run_id, churn_probability FROM retention_targets "
                                  "ORDER BY 1").fetchall()
    assert cli("train", "--json").code == 0  # model 2, a candidate
    out = run_score(cli, "--shadow", "2")
    assert out["shadow"] and out["targets"] == 0
    assert _one(trained_conn, "SELECT count(*) FROM score_history WHERE run_id = %s AND is_shadow",
                out["run_id"]) == TRAINED_ROWS
    assert trained_conn.execute("SELECT customer_id, run_id, churn_probability FROM retention_targets "
                                "ORDER BY 1").fetchall() == before


def test_kill_mid_run_publishes_nothing_and_the_next_run_recovers(cli, cli_process, trained_conn):
    first = run_score(cli)
    targets_before = trained_conn.execute("SELECT customer_id, run_id FROM retention_targets ORDER BY 1").fetchall()
    proc = cli_process("score", "--chunk-rows", "500")
    deadline = time.monotonic() + 120
    killed = False
    while time.monotonic() < deadline and proc.poll() is None:
        # Kill once the run has written part of its history inside its transaction.
        writing = _one(trained_conn, "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                                     "'churndb-score-write' AND query ILIKE 'COPY %%score_history_r%%'")
        if writing:
            time.sleep(0.3)
            proc.kill()
            killed = True
            break
        time.sleep(0.01)
    out, err = proc.communicate()
    assert killed, f"the run finished before it could be killed: {out} {err}"
    for _ in range(100):
        if _one(trained_conn, "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'churndb-score%%'") == 0:
            break
        time.sleep(0.1)
    killed_run = _one(trained_conn, "SELECT max(run_id) FROM scoring_runs")
    assert _one(trained_conn, "SELECT status FROM scoring_runs WHERE run_id = %s", killed_run) == "running"
    assert _one(trained_conn, "SELECT count(*) FROM score_history WHERE run_id = %s", killed_run) == 0
    # its own history table went with its transaction
    assert _one(trained_conn, "SELECT to_regclass(%s)", f"churndb.score_history_r{killed_run}") is None
    assert trained_conn.execute("SELECT customer_id, run_id FROM retention_targets ORDER BY 1").fetchall() == targets_before
    after = run_score(cli)
    assert after["abandoned_runs_failed"] == [killed_run]
    assert _one(trained_conn, "SELECT status FROM scoring_runs WHERE run_id = %s", killed_run) == "failed"
    assert _one(trained_conn, "SELECT count(*) FROM score_history WHERE run_id = %s", after["run_id"]) == TRAINED_ROWS
    assert after["run_id"] > first["run_id"]


def test_score_without_a_champion_is_a_clear_error(cli, db_url):
    res = cli("score")
    assert res.code == 1 and "no champion" in res.err
