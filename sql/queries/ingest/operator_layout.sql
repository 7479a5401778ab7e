-- Statements run by churndb.ingest.operator_layout: snapshots of a registered source (churndb_source.<name>).
-- {placeholders} are filled only with psycopg.sql.Identifier values (stored column names and the
-- source's validated name), never with text from a file: Statements.compose in churndb.store.sqlfiles.

-- name: create_source_staging
-- Session-local landing table for COPY; dropped at commit.
CREATE TEMP TABLE source_staging (LIKE churndb_source.{table}) ON COMMIT DROP;
ALTER TABLE source_staging ALTER COLUMN customer_id DROP NOT NULL, ALTER COLUMN batch_id DROP NOT NULL,
    ADD COLUMN line_number integer;

-- name: copy_source_staging
COPY source_staging ({columns}) FROM STDIN WITH (FORMAT csv);

-- name: staged_counts
-- Rows staged (duplicates already moved to the quarantine) and labels among them; {label}: the label
-- column, or NULL.
SELECT count(*), count({label}) FROM source_staging;

-- name: assign_customer_ids
-- Keys seen for the first time get churndb's id (then attach_customer_ids puts it on every staged row).
INSERT INTO churndb.source_keys (source, customer_key)
SELECT DISTINCT %(source)s, customer_key FROM source_staging
ORDER BY 2
ON CONFLICT (source, customer_key) DO NOTHING;

-- name: attach_customer_ids
UPDATE source_staging s SET customer_id = k.customer_id
FROM churndb.source_keys k WHERE k.source = %(source)s AND k.customer_key = s.customer_key;

-- name: upsert_source_snapshots
-- A later batch for the same customer and date replaces the earlier values (no duplicate snapshots).
INSERT INTO churndb_source.{table} AS t (customer_id, as_of_date, customer_key, {columns}, batch_id)
SELECT s.customer_id, s.as_of_date, s.customer_key, {staged_columns}, %(batch_id)s
FROM source_staging s
ON CONFLICT (customer_id, as_of_date) DO UPDATE SET {update}, batch_id = excluded.batch_id;
