-- Each customer's latest published score: the rows of the latest published run of each source
-- (every run scores every current customer of its source).  customer_key: the key as the operator wrote it.
SELECT h.customer_id, h.churn_probability, h.risk_score, h.risk_category, h.retention_action,
       h.estimated_intervention_cost, h.estimated_revenue_at_risk, h.top_reasons, h.model_version, h.run_id,
       h.scored_at, h.snapshot_date, h.source, coalesce(h.customer_key, h.customer_id::text) AS customer_key
FROM churndb.score_history h
WHERE h.run_id IN (SELECT run_id FROM churndb.v_published_runs WHERE recency = 1)
