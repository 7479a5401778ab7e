-- Statements run by churndb.ops.status: What the database holds (churndb status).

-- name: batch_totals
SELECT count(*) AS batches, coalesce(sum(rows_in), 0) AS rows_in, coalesce(sum(rows_loaded), 0) AS rows_loaded,
       coalesce(sum(rows_rejected), 0) AS rows_rejected
FROM churndb.ingest_batches;

-- name: snapshot_summary
-- What is loaded: per as-of date, customers, labelled customers and churn rate.
SELECT s.as_of_date,
       count(*)                                      AS customers,
       count(o.customer_id)                          AS labelled,
       avg(o.churned::int)::float8                   AS churn_rate
FROM churndb.customer_snapshots s
LEFT JOIN churndb.churn_outcomes o
       ON o.customer_id = s.customer_id AND o.observed_as_of = s.as_of_date
GROUP BY s.as_of_date
ORDER BY s.as_of_date;

-- name: champion_summary
-- What is trained: the churn champion (the telecom layout's first), its hold-out AUC and how old it is.
SELECT model_version, (metrics ->> 'auc')::float8, created_at, promoted_at,
       extract(epoch FROM now() - created_at)::float8 / 86400
FROM churndb.model_versions WHERE status = 'champion' AND kind = 'churn'
ORDER BY source <> 'telecom', model_version DESC LIMIT 1;

-- name: last_published_run
-- What is published: the newest published run.
SELECT run_id, finished_at, customers_scored, targets, model_version
FROM churndb.scoring_runs WHERE status = 'succeeded' AND NOT is_shadow
ORDER BY finished_at DESC, run_id DESC LIMIT 1;

-- name: recent_job_failures
-- The last job failures (newest first).
SELECT job, started_at, error FROM churndb.job_runs WHERE status = 'failed' ORDER BY started_at DESC LIMIT 5;
