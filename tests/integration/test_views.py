"""What BI and DBAs read: views agree with each other and with the published run."""

import pytest

from tests.conftest import TRAINED_ROWS, run_score


def test_segments_sum_to_the_scored_customers_and_match_history(cli, trained_conn):
    out = run_score(cli)
    rows = trained_conn.execute("SELECT risk_category, customers, share, avg_score, revenue_at_risk::float8, "
                                "intervention_cost::float8 FROM v_risk_segments").fetchall()
    assert sum(r[1] for r in rows) == out["customers_scored"] == TRAINED_ROWS
    assert sum(r[2] for r in rows) == pytest.approx(1.0)
    direct = {r[0]: r[1:] for r in trained_conn.execute(
        "SELECT risk_category, count(*), avg(risk_score)::float8, sum(estimated_revenue_at_risk)::float8, "
        "sum(estimated_intervention_cost)::float8 FROM score_history WHERE run_id = %s GROUP BY 1",
        (out["run_id"],)).fetchall()}
    for category, customers, _, avg_score, at_risk, cost in rows:
        assert (customers, avg_score, at_risk, cost) == pytest.approx(direct[category])
    assert trained_conn.execute("SELECT count(*) FROM v_current_scores").fetchone()[0] == TRAINED_ROWS


def test_roi_projection_is_the_formula_applied_to_targets_and_policy(cli, trained_conn):
    run_score(cli)
    view = {r[0]: r[1:] for r in trained_conn.execute(
        "SELECT risk_category, contacted, program_cost, expected_retained, expected_revenue_saved, net_benefit, roi, "
        "monthly_revenue_saved FROM v_roi_projection").fetchall()}
    success, horizon = trained_conn.execute("SELECT success_rate::float8, value_horizon_months FROM segment_policy "
                                            "WHERE policy_version = 1").fetchone()
    t = trained_conn.execute(
        "SELECT t.churn_probability, t.estimated_intervention_cost::float8, s.monthly_charges::float8 "
        "FROM retention_targets t JOIN v_current_scores c USING (customer_id) "
        "JOIN customer_snapshots s ON s.customer_id = t.customer_id AND s.as_of_date = c.snapshot_date "
        "WHERE t.is_current AND t.treatment_group = 'treatment'").fetchall()
    cost = sum(r[1] for r in t)
    saved = sum(r[0] * success * r[2] * horizon for r in t)
    retained = sum(r[0] * success for r in t)
    contacted, v_cost, v_retained, v_saved, v_net, v_roi, v_monthly = view["All"]
    assert contacted == len(t)
    assert v_cost == pytest.approx(cost)
    assert v_retained == pytest.approx(retained)
    assert v_saved == pytest.approx(saved, abs=0.01 * len(t))  # revenue at risk is stored to the cent
    assert v_net == pytest.approx(v_saved - v_cost)
    assert v_roi == pytest.approx((v_saved - v_cost) / v_cost)
    assert v_monthly == pytest.approx(v_saved / horizon)
    parts = [v for k, v in view.items() if k != "All"]
    assert sum(p[1] for p in parts) == pytest.approx(v_cost)


def test_only_succeeded_runs_are_visible(cli, trained_conn):
    published = run_score(cli)
    # A failed run with rows (as a half-written run would have, had it committed anything).
    run_id, started = trained_conn.execute(
        "INSERT INTO scoring_runs (model_version, status) VALUES (1, 'failed') RETURNING run_id, started_at").fetchone()
    trained_conn.execute("SELECT ensure_score_history_partition(%s)", (started,))
    trained_conn.execute("SELECT add_run_history_partition(%s)", (run_id,))
    trained_conn.execute("INSERT INTO score_history (scored_at, run_id, customer_id, model_version, churn_probability, "
                         "risk_score, risk_category, retention_action, estimated_intervention_cost, "
                         "estimated_revenue_at_risk) SELECT %s, %s, customer_id, 1, 0.99, 99, 'Critical', 'x', 150, 1 "
                         "FROM customer_snapshots", (started, run_id))
    assert {r[0] for r in trained_conn.execute("SELECT DISTINCT run_id FROM v_current_scores")} == {published["run_id"]}
    assert {r[0] for r in trained_conn.execute("SELECT DISTINCT run_id FROM v_risk_segments")} == {published["run_id"]}
    audit = trained_conn.execute("SELECT run_id, run_status FROM v_score_audit WHERE customer_id = 100001 "
                                 "ORDER BY scored_at").fetchall()
    assert audit == [(published["run_id"], "succeeded"), (run_id, "failed")]


def test_audit_shows_each_customer_across_runs_and_models(cli, trained_conn):
    first = run_score(cli)
    assert cli("train", "--json").code == 0
    assert cli("models", "promote", "2").code == 0
    second = run_score(cli)
    rows = trained_conn.execute("SELECT run_id, model_version, artifact_sha256 FROM v_score_audit "
                                "WHERE customer_id = 100002 ORDER BY scored_at").fetchall()
    shas = dict(trained_conn.execute("SELECT model_version, artifact_sha256 FROM model_versions").fetchall())
    assert [(r[0], r[1]) for r in rows] == [(first["run_id"], 1), (second["run_id"], 2)]
    assert all(r[2] == shas[r[1]] for r in rows)


def test_drift_view_compares_each_run_with_the_previous(cli, trained_conn):
    run_score(cli)
    run_score(cli)
    assert cli("monitor", "--json").code == 0
    rows = trained_conn.execute("SELECT run_id, previous_run_id, share_change, score_psi, feature_psi "
                                "FROM v_score_drift ORDER BY run_id, risk_category").fetchall()
    latest = [r for r in rows if r[1] is not None]
    assert latest and all(r[2] == pytest.approx(0.0) for r in latest)  # same data, same model
    assert latest[0][3] == pytest.approx(0.0, abs=1e-9)
    assert "tenure_months" in latest[0][4]
