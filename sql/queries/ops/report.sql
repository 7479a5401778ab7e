-- Statements run by churndb.ops.report: Deployment metrics of the latest published run, read from the BI views.

-- name: latest_segments
SELECT run_id, risk_category, customers, share, avg_score, revenue_at_risk::float8, intervention_cost::float8
FROM churndb.v_risk_segments;

-- name: latest_roi
SELECT run_id, risk_category, targeted, contacted, control, program_cost, expected_retained, expected_revenue_saved,
       net_benefit, roi, monthly_revenue_saved, monthly_net_benefit, break_even_success_rate, success_rate,
       horizon_months
FROM churndb.v_roi_projection;

-- name: model_metrics
SELECT metrics, training FROM churndb.model_versions WHERE model_version = %(model_version)s;
