-- Statements run by churndb.store.sources: registered customer layouts, their key map and snapshot tables.
-- {placeholders} are filled only with psycopg.sql.Identifier values built from a registered source name.

-- name: get_source
SELECT source, key_column, key_header, key_type, label_column, value_column, as_of_column, excluded, columns,
       row_ids, builtin, layout_version
FROM churndb.sources WHERE source = %(source)s;

-- name: list_sources
SELECT s.source FROM churndb.sources s ORDER BY s.builtin DESC, s.source;

-- name: insert_source
INSERT INTO churndb.sources (source, key_column, key_header, key_type, label_column, value_column, as_of_column,
                             excluded, columns, row_ids)
VALUES (%(source)s, %(key_column)s, %(key_header)s, %(key_type)s, %(label_column)s, %(value_column)s,
        %(as_of_column)s, %(excluded)s, %(columns)s, %(row_ids)s);

-- name: lock_source
-- Two loads of one source serialise here (layout checks and key assignment see each other's commits).
SELECT source FROM churndb.sources WHERE source = %(source)s FOR UPDATE;

-- name: change_layout
UPDATE churndb.sources SET columns = %(columns)s, layout_version = layout_version + 1
WHERE source = %(source)s
RETURNING layout_version;

-- name: record_layout_change
INSERT INTO churndb.source_layout_changes (source, layout_version, previous, current)
VALUES (%(source)s, %(layout_version)s, %(previous)s, %(current)s);

-- name: create_source_table
-- One snapshot per customer and date, like customer_snapshots: customer_id is churndb's id for the
-- operator's key (churndb.source_keys), customer_key the key as written.
CREATE TABLE churndb_source.{table} (
    customer_id   bigint NOT NULL,
    as_of_date    date   NOT NULL,
    customer_key  text   NOT NULL,
    {columns},
    batch_id      bigint NOT NULL REFERENCES churndb.ingest_batches,
    PRIMARY KEY (customer_id, as_of_date)
);

-- name: index_source_table
CREATE INDEX ON churndb_source.{table} (as_of_date, customer_id);

-- name: add_source_column
ALTER TABLE churndb_source.{table} ADD COLUMN {column} {type};

