-- Statements used by churndb.status.

-- name: batch_totals
SELECT count(*) AS batches, coalesce(sum(rows_in), 0) AS rows_in, coalesce(sum(rows_loaded), 0) AS rows_loaded,
       coalesce(sum(rows_rejected), 0) AS rows_rejected
FROM churndb.ingest_batches;
