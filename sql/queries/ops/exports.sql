-- Statements run by churndb.ops.exports: CRM exports of a published run.

-- name: latest_published_run
SELECT r.run_id, r.model_version, r.policy_version, r.as_of_date, r.started_at, r.finished_at,
       r.customers_scored, r.targets, r.campaign_id
FROM churndb.scoring_runs r
WHERE r.status = 'succeeded' AND NOT r.is_shadow AND r.source = %(source)s
ORDER BY r.finished_at DESC, r.run_id DESC
LIMIT 1;

-- name: export_run
-- Every customer of a run with the attributes it was scored on, highest risk first.
COPY (
    SELECT s.customer_id, s.gender, s.age, s.region_circle, s.connection_type, s.plan_type, s.contract_type,
           s.base_plan_category, s.tenure_months, s.monthly_charges, s.total_charges, s.avg_data_gb_month,
           s.avg_voice_mins_month, s.sms_count_month, s.overage_charges, s.is_family_plan, s.is_multi_service,
           s.network_issues_3m, s.dropped_call_rate, s.avg_data_speed_mbps, s.num_complaints_3m,
           s.num_complaints_12m, s.call_center_interactions_3m, s.last_complaint_resolution_days,
           s.app_logins_30d, s.selfcare_transactions_30d, s.auto_pay_enrolled, s.late_payment_flag_3m,
           s.avg_payment_delay_days, s.arpu, s.segment_value, s.nps_score, s.service_rating_last_6m,
           s.received_competitor_offer_flag, s.retention_offer_accepted_flag,
           h.churn_probability, h.risk_score, h.risk_category, h.retention_action,
           h.estimated_intervention_cost, h.estimated_revenue_at_risk,
           t.treatment_group, t.suggested_offer,
           (SELECT string_agg(r ->> 'feature', '; ') FROM jsonb_array_elements(h.top_reasons) r) AS top_reasons,
           h.model_version, h.run_id
    FROM churndb.score_history h
    JOIN churndb.customer_snapshots s ON s.customer_id = h.customer_id AND s.as_of_date = h.snapshot_date
    LEFT JOIN churndb.retention_targets t ON t.customer_id = h.customer_id AND t.run_id = h.run_id
    WHERE h.run_id = %(run_id)s AND (%(segment)s = 'all' OR lower(h.risk_category) = %(segment)s)
    ORDER BY h.risk_score DESC, h.churn_probability DESC, h.customer_id
) TO STDOUT WITH (FORMAT csv, HEADER true);

-- name: export_source_run
-- Every customer of a registered source's run: the key and columns under the file's own headers
-- ({columns}: s.<stored> AS "<header>", identifiers), then the scores, highest risk first.
COPY (
    SELECT h.customer_key AS {key}, {columns},
           h.churn_probability, h.risk_score, h.risk_category, h.retention_action,
           h.estimated_intervention_cost, h.estimated_revenue_at_risk,
           t.treatment_group, t.suggested_offer,
           (SELECT string_agg(r ->> 'feature', '; ') FROM jsonb_array_elements(h.top_reasons) r) AS top_reasons,
           h.model_version, h.run_id
    FROM churndb.score_history h
    JOIN {table} s ON s.customer_id = h.customer_id AND s.as_of_date = h.snapshot_date
    LEFT JOIN churndb.retention_targets t ON t.customer_id = h.customer_id AND t.run_id = h.run_id
    WHERE h.run_id = %(run_id)s AND (%(segment)s = 'all' OR lower(h.risk_category) = %(segment)s)
    ORDER BY h.risk_score DESC, h.churn_probability DESC, h.customer_id
) TO STDOUT WITH (FORMAT csv, HEADER true);

-- name: run_categories
-- The segments of a run's policy, highest risk first (export file names and --segment values).
SELECT lower(risk_category) FROM churndb.segment_policy_bands
WHERE policy_version = %(policy_version)s
ORDER BY min_score DESC;
