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

-- {staging}: the loader's temporary staging table (alias s); {key}: its normalised customer key as
-- text (the key rejections carry); {shown}: the key as the file wrote it.  Expressions from code.

-- name: find_duplicates
-- Customer keys on more than one record of the file (chunks apart, or one copy already rejected for
-- another reason), with the first lines they stand on: every copy is quarantined, we cannot tell
-- which one is right.
CREATE TEMP TABLE batch_duplicates ON COMMIT DROP AS
WITH keys AS (
    SELECT {key} AS key, s.line_number FROM {staging} s
    UNION ALL
    SELECT key, line_number FROM batch_rejections WHERE key IS NOT NULL
)
SELECT key, array_to_string((array_agg(line_number ORDER BY line_number))[1:5], ', ') AS lines
FROM keys GROUP BY key HAVING count(*) > 1;

-- name: mark_rejected_duplicates
-- The already-rejected copies get the reason added ...
UPDATE batch_rejections r
SET reason = r.reason || '; ' || %(name)s || ' ' || d.key || ' appears more than once (lines ' || d.lines || ')'
FROM batch_duplicates d WHERE r.key = d.key;

-- name: quarantine_staged_duplicates
-- ... then the staged copies move to the quarantine (their raw text is filled in afterwards).
WITH moved AS (
    DELETE FROM {staging} s USING batch_duplicates d WHERE {key} = d.key
    RETURNING s.line_number, {shown} AS shown, d.key, d.lines
)
INSERT INTO batch_rejections (line_number, customer_id, key, raw_line, reason)
SELECT line_number, shown, key, NULL, %(name)s || ' ' || key || ' appears more than once (lines ' || lines || ')'
FROM moved
RETURNING line_number;

-- name: fill_raw_line
UPDATE batch_rejections SET raw_line = %(raw)s WHERE line_number = %(line_number)s AND raw_line IS NULL;
