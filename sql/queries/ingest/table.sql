-- Statements run by churndb.ingest.table: Any CSV into its own typed table in churndb_import.
-- {placeholders} are filled only with psycopg.sql.Identifier values (never with text from a file or the
-- command line): Statements.compose in churndb.store.sqlfiles.

-- name: table_columns
-- Existing columns of an import table, in order (empty when the table does not exist).
SELECT a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'churndb_import' AND c.relname = %(table)s AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;

-- name: create_import_table
CREATE TABLE churndb_import.{table} ({columns}, PRIMARY KEY ({key}));

-- name: create_import_staging
CREATE TEMP TABLE import_staging (LIKE churndb_import.{table}) ON COMMIT DROP;

-- name: copy_import_staging
COPY import_staging ({columns}) FROM STDIN WITH (FORMAT csv);

-- name: upsert_import_rows
-- Rows for keys already present are replaced by the newer file's values.
INSERT INTO churndb_import.{table} ({columns})
SELECT {columns} FROM import_staging
ON CONFLICT ({key}) DO UPDATE SET ({columns}) = ROW({excluded});
