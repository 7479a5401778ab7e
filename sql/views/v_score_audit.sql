-- Every score ever written, with the run, its status and the exact model artifact that produced it.
-- Filter by customer_id (indexed).  Shadow and unpublished (failed) runs are shown and labelled.
SELECT h.customer_id, h.scored_at, h.run_id, r.status AS run_status, h.is_shadow, h.model_version,
       m.artifact_sha256, r.policy_version, h.snapshot_date, h.churn_probability, h.risk_score,
       h.risk_category, h.retention_action, h.top_reasons, r.host, r.pid
FROM churndb.score_history h
JOIN churndb.scoring_runs r ON r.run_id = h.run_id
JOIN churndb.model_versions m ON m.model_version = h.model_version
