-- Per model version and score decile: predicted churn rate vs the rate observed once outcomes
-- matured, with the AUC / accuracy of that evaluation (computed and stored by the monitor job).
SELECT m.computed_at, m.model_version, m.run_id, (m.details ->> 'is_shadow')::boolean AS is_shadow,
       (d ->> 'decile')::int AS decile, (d ->> 'customers')::int AS customers,
       (d ->> 'predicted_rate')::float8 AS predicted_rate, (d ->> 'observed_rate')::float8 AS observed_rate,
       (m.details ->> 'auc')::float8 AS auc, (m.details ->> 'accuracy')::float8 AS accuracy,
       (m.details ->> 'holdout_auc')::float8 AS holdout_auc, (m.details ->> 'rows')::int AS matured_rows
FROM churndb.monitoring_metrics m
CROSS JOIN LATERAL jsonb_array_elements(m.details -> 'deciles') d
WHERE m.metric = 'matured_performance'
