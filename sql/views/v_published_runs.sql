-- Scoring runs readers may see: succeeded, not shadow; recency = 1 is the latest.
SELECT r.run_id, r.model_version, r.policy_version, r.as_of_date, r.campaign_id, r.started_at, r.finished_at,
       r.customers_scored, r.targets, r.stage_seconds,
       row_number() OVER (ORDER BY r.finished_at DESC, r.run_id DESC) AS recency
FROM churndb.scoring_runs r
WHERE r.status = 'succeeded' AND NOT r.is_shadow
