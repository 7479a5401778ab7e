-- Statements run by churndb.ingest.batch: Ingest batches and quarantined rows: one mechanism for every loader.

-- name: find_batch
-- The batch that already loaded this exact file for this target and date, if any.
SELECT batch_id, rows_in, rows_loaded, rows_rejected, labels_loaded
FROM churndb.ingest_batches
WHERE file_sha256 = %(sha256)s
  AND target_table = %(target_table)s
  AND coalesce(as_of_date, 'infinity'::date) = coalesce(%(as_of_date)s::date, 'infinity'::date);

-- name: create_batch_rejections
-- The batch's quarantined records, gathered while it loads (key: the normalised customer key, for
-- finding duplicates across chunks); moved into rejected_rows once the batch row exists.
CREATE TEMP TABLE batch_rejections (
    line_number integer NOT NULL, customer_id text, key text, raw_line text, reason text NOT NULL
) ON COMMIT DROP;

-- name: copy_batch_rejections
COPY batch_rejections (line_number, customer_id, key, raw_line, reason) FROM STDIN;

-- name: count_batch_rejections
SELECT count(*) FROM batch_rejections;

-- name: insert_batch
INSERT INTO churndb.ingest_batches
    (source_file, file_sha256, target_table, as_of_date, rows_in, rows_loaded, rows_rejected, labels_loaded, details)
VALUES (%(source_file)s, %(sha256)s, %(target_table)s, %(as_of_date)s, %(rows_in)s, %(rows_loaded)s,
        %(rows_rejected)s, %(labels_loaded)s, %(details)s)
RETURNING batch_id;

-- name: move_rejections
INSERT INTO churndb.rejected_rows (batch_id, line_number, customer_id, raw_line, reason)
SELECT %(batch_id)s, line_number, customer_id, raw_line, reason FROM batch_rejections ORDER BY line_number;
