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
