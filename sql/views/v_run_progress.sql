-- Scoring runs with their progress: for a Dask run, partitions done / planned, retries, customers so far.
-- Runs still 'running' are shown too (this is the operators' view, not a reader's).
SELECT r.run_id, r.status, r.executor, r.is_shadow, r.model_version, r.started_at, r.finished_at,
       r.partitions AS partitions_planned,
       count(p.partition_no) FILTER (WHERE p.status = 'done') AS partitions_done,
       coalesce(sum(p.attempts - 1) FILTER (WHERE p.attempts > 1), 0) AS partition_retries,
       coalesce(r.customers_scored, sum(p.customers)) AS customers_scored,
       r.error
FROM churndb.scoring_runs r
LEFT JOIN churndb.run_partitions p ON p.run_id = r.run_id
GROUP BY r.run_id
