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
