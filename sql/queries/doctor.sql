-- Statements run by churndb.doctor: the health checks of `churndb doctor`.

-- name: server_version
SELECT current_setting('server_version');

-- name: latest_run
-- The newest non-shadow run, whatever became of it.
SELECT run_id, status, started_at, finished_at, customers_scored, targets, error,
       extract(epoch FROM now() - coalesce(finished_at, started_at))::float8 AS age_seconds
FROM churndb.scoring_runs
WHERE NOT is_shadow
ORDER BY run_id DESC LIMIT 1;

-- name: run_score_distribution
-- Minimum, maximum and mean risk score of one run's customers.
SELECT min(risk_score), max(risk_score), avg(risk_score)::float8, count(*)
FROM churndb.score_history WHERE run_id = %(run_id)s;

-- name: published_shares
-- Each category's share of the customers of the two newest published runs (newest first).
WITH runs AS (
    SELECT run_id, row_number() OVER (ORDER BY finished_at DESC, run_id DESC) AS n
    FROM churndb.scoring_runs WHERE status = 'succeeded' AND NOT is_shadow
)
SELECT runs.n, s.risk_category, s.customers::float8 / sum(s.customers) OVER (PARTITION BY s.run_id)
FROM runs JOIN churndb.run_segment_summary s USING (run_id)
WHERE runs.n <= 2
ORDER BY runs.n, s.min_score DESC;

-- name: recent_failed_job
-- The newest failed job of the last seven days.
SELECT job, started_at, error FROM churndb.job_runs
WHERE status = 'failed' AND started_at > now() - interval '7 days'
ORDER BY started_at DESC LIMIT 1;

-- name: probe_row
-- One customer's latest snapshot, to score as a probe.
SELECT * FROM churndb.customer_snapshots ORDER BY as_of_date DESC, customer_id LIMIT 1;
