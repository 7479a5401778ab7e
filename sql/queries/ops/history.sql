-- Statements run by churndb.ops.history: score_history maintenance: partitions and the archive.
-- {placeholders} are filled only with psycopg.sql.Identifier values (never with text from a file or the
-- command line): Statements.compose in churndb.store.sqlfiles.

-- name: history_partitions
-- The monthly partitions attached to score_history with their ranges (the default partition has none).
SELECT c.relname, b[1]::timestamptz AS range_from, b[2]::timestamptz AS range_to
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
CROSS JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\) TO \(''([^'']+)''\)') AS b
WHERE i.inhparent = 'churndb.score_history'::regclass AND b IS NOT NULL
ORDER BY range_from;

-- name: set_local_lock_timeout
SELECT set_config('lock_timeout', %(wait)s, true);

-- name: count_partition_rows
SELECT count(*) FROM {partition};

-- name: detach_history_partition
ALTER TABLE churndb.score_history DETACH PARTITION {partition};

-- name: runs_of_month
-- The tables of the runs a month holds (its sub-partitions, migration 0010).
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = (SELECT oid FROM pg_class WHERE relname = %(month)s AND relnamespace = 'churndb'::regnamespace)
ORDER BY c.relname;

-- name: move_to_archive
ALTER TABLE {partition} SET SCHEMA {archive};

-- name: archive_read_only
-- Detaching drops the triggers a partition had from score_history: the archive gets its own (a month's
-- run tables inherit them from it; each keeps its own TRUNCATE guard).
CREATE TRIGGER archive_no_change BEFORE UPDATE OR DELETE ON {archived}
    FOR EACH ROW EXECUTE FUNCTION churndb.refuse_history_change();
CREATE TRIGGER archive_no_truncate BEFORE TRUNCATE ON {archived}
    FOR EACH STATEMENT EXECUTE FUNCTION churndb.refuse_history_change();

-- name: grant_archive_to_auditor
GRANT SELECT ON {archived} TO churn_auditor;

-- name: log_archived_partition
INSERT INTO churndb.history_archive (partition_name, range_from, range_to, row_count, archived_to)
VALUES (%(name)s, %(range_from)s, %(range_to)s, %(rows)s, %(archived_to)s);
