-- What the CRM works from: current Critical and High targets to contact (control excluded), highest risk first.
SELECT customer_id, churn_probability, risk_score, risk_category, retention_action, suggested_offer,
       estimated_intervention_cost, estimated_revenue_at_risk, top_reasons, campaign_id, run_id, scored_at,
       crm_status, crm_owner, crm_notes, crm_updated_at, source, customer_key
FROM churndb.retention_targets
WHERE is_current AND treatment_group = 'treatment' AND risk_category IN ('Critical', 'High')
ORDER BY risk_score DESC, churn_probability DESC
