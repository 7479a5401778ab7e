-- Statements run by churndb.training.dataset: Training sets: point-in-time snapshot rows with their labels, or any table or view.

-- name: snapshot_date_range
SELECT min(as_of_date), max(as_of_date) FROM churndb.customer_snapshots;

-- name: snapshot_training_rows
-- Features as of each snapshot date D in [start, end] with the label known for D:
--   1. a training extract's is_churn for D itself (churn_outcomes.observed_as_of = D), else
--   2. churned: an outcome-feed churn date in (D + lead, D + lead + horizon], else
--   3. not churned: the window has passed and the outcome feed covers it, else
--   4. unknown (NULL): the row is left out of training and counted.
-- Attributes recorded after D never enter: only the snapshot taken at D is read.
-- Wrapped by copy_training_rows (all of it) or copy_training_sample (a stratified sample).
    WITH feed AS (                        -- how far the outcome feed reaches
        SELECT max(observed_as_of) AS covered_until FROM churndb.churn_outcomes WHERE source = 'feed'
    )
    SELECT s.*,
           CASE
               WHEN x.churned IS NOT NULL THEN x.churned::int
               WHEN EXISTS (SELECT 1 FROM churndb.churn_outcomes f
                            WHERE f.customer_id = s.customer_id AND f.churned AND f.source = 'feed'
                              AND f.churned_on >  s.as_of_date + %(lead_days)s::int
                              AND f.churned_on <= s.as_of_date + %(lead_days)s::int + %(horizon_days)s::int) THEN 1
               WHEN (SELECT covered_until FROM feed) >= s.as_of_date + %(lead_days)s::int + %(horizon_days)s::int THEN 0
           END AS label
    FROM churndb.customer_snapshots s
    LEFT JOIN churndb.churn_outcomes x
           ON x.customer_id = s.customer_id AND x.observed_as_of = s.as_of_date AND x.source = 'extract'
    WHERE s.as_of_date BETWEEN %(start)s::date AND %(end)s::date

-- name: copy_training_rows
COPY (SELECT * FROM ({rows}) t ORDER BY as_of_date, customer_id) TO STDOUT WITH (FORMAT csv, HEADER true);

-- name: copy_training_sample
-- A stratified sample of about %(sample)s labelled rows drawn in the database: each label class keeps
-- its share, rows picked by a seeded hash of (customer, date) - the same seed, the same sample.
COPY (
    SELECT * FROM (
        SELECT t.*,
               row_number() OVER (PARTITION BY label ORDER BY hashtextextended(t.customer_id::text || '/' ||
                                  t.as_of_date::text, %(seed)s::bigint), t.customer_id, t.as_of_date) AS sample_rank,
               count(*) OVER (PARTITION BY label) AS class_rows,
               count(*) FILTER (WHERE label IS NOT NULL) OVER () AS labelled_rows,
               count(*) FILTER (WHERE label IS NULL) OVER () AS unlabelled_rows
        FROM ({rows}) t
    ) ranked
    WHERE label IS NOT NULL AND sample_rank <= round(%(sample)s::float8 * class_rows / labelled_rows)
    ORDER BY as_of_date, customer_id
) TO STDOUT WITH (FORMAT csv, HEADER true);

-- name: find_relation
-- A table or view by name: schema-qualified, or the first match in churndb_import, churndb, public.
SELECT c.oid::int, n.nspname, c.relname
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND c.relname = %(name)s
  AND n.nspname = ANY(%(schemas)s::text[])
ORDER BY array_position(%(schemas)s::text[], n.nspname::text)
LIMIT 1;

-- name: relation_columns
-- Columns and their type category (S string, B boolean, N numeric, D date/time, ...).
SELECT a.attname, t.typcategory
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = %(oid)s AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;

-- name: copy_relation_columns
COPY (SELECT {columns} FROM {relation}) TO STDOUT WITH (FORMAT csv, HEADER true);

-- name: source_date_range
SELECT min(as_of_date), max(as_of_date) FROM {table};

-- name: copy_source_training_rows
-- A registered source's snapshots at each date D in [start, end] with the label known for D: the file's
-- own label for D, else churned in (D + lead, D + lead + horizon] by the source's outcome feed, else not
-- churned once that feed covers the window, else unknown (NULL: left out and counted).
COPY (
    WITH feed AS (
        SELECT max(observed_as_of) AS covered_until FROM churndb.churn_outcomes WHERE source = %(feed)s
    )
    SELECT s.customer_id, s.as_of_date, s.customer_key, {columns},
           CASE
               WHEN {label} IS NOT NULL THEN ({label})::int
               WHEN EXISTS (SELECT 1 FROM churndb.churn_outcomes f
                            WHERE f.customer_id = s.customer_id AND f.churned AND f.source = %(feed)s
                              AND f.churned_on >  s.as_of_date + %(lead_days)s::int
                              AND f.churned_on <= s.as_of_date + %(lead_days)s::int + %(horizon_days)s::int) THEN 1
               WHEN (SELECT covered_until FROM feed) >= s.as_of_date + %(lead_days)s::int + %(horizon_days)s::int THEN 0
           END AS label
    FROM {table} s
    WHERE s.as_of_date BETWEEN %(start)s::date AND %(end)s::date
    ORDER BY s.as_of_date, s.customer_id
) TO STDOUT WITH (FORMAT csv, HEADER true);
