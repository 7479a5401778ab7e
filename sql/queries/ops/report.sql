-- Statements run by churndb.ops.report: Deployment metrics of the latest published run, read from the BI views.

-- name: latest_segments
SELECT run_id, risk_category, customers, share, avg_score, revenue_at_risk::float8, intervention_cost::float8,
       value_note
FROM churndb.v_risk_segments WHERE source = %(source)s;

-- name: latest_roi
SELECT run_id, risk_category, targeted, contacted, control, program_cost, expected_retained, expected_revenue_saved,
       net_benefit, roi, monthly_revenue_saved, monthly_net_benefit, break_even_success_rate, success_rate,
       horizon_months, value_note
FROM churndb.v_roi_projection WHERE source = %(source)s;

-- name: model_metrics
SELECT metrics, training FROM churndb.model_versions WHERE model_version = %(model_version)s;

-- name: cumulative_roi
-- The first months of the cumulative projection (v_roi_cumulative), for the report.
SELECT run_id, month, retained, revenue_saved, program_cost, net_benefit, cumulative_roi
FROM churndb.v_roi_cumulative WHERE run_id = %(run_id)s AND month <= %(months)s ORDER BY month;

-- name: realized_roi
-- What matured campaigns achieved, in total per campaign (v_roi_realized).
SELECT campaign_id, status, treated, control, uplift, revenue_saved, program_cost, roi
FROM churndb.v_roi_realized WHERE risk_category = 'All' ORDER BY campaign_id;

-- name: offer_experiments
-- Offer arms of matured campaigns (v_offer_experiments).
SELECT campaign_id, risk_category, arm, contacted, control, status, churn_rate, control_churn_rate, uplift,
       uplift_low, uplift_high, cost_per_saved, verdict, best_arm
FROM churndb.v_offer_experiments ORDER BY campaign_id, risk_category, arm;

-- name: uplift_models
-- The source's uplift models, newest first (v_uplift_performance).
SELECT model_version, campaign_id, status, used_for_targeting, qini, qini_risk_ranking, difference_low,
       difference_high, uplift_at_10, risk_uplift_at_10, uplift_at_30, risk_uplift_at_30
FROM churndb.v_uplift_performance WHERE source = %(source)s ORDER BY model_version DESC LIMIT 5;
