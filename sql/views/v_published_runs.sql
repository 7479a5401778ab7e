-- Scoring runs readers may see: succeeded, not shadow; recency = 1 is the latest of its source.
SELECT r.run_id, r.model_version, r.policy_version, r.as_of_date, r.campaign_id, r.started_at, r.finished_at,
       r.customers_scored, r.targets, r.stage_seconds,
       row_number() OVER (PARTITION BY r.source ORDER BY r.finished_at DESC, r.run_id DESC) AS recency,
       r.source
FROM churndb.scoring_runs r
WHERE r.status = 'succeeded' AND NOT r.is_shadow
