"""A run's score history is written where it will stay: a table of its own, attached at publish.

Before, a run COPYed its rows into ``score_history`` through the partitioned parent (two indexes kept
up row by row, a statement trigger's transition table per COPY), and a Dask run's publish copied
every staged row into history on one server: a publish that grew with the run.  Now:

* Every monthly partition of ``score_history`` is itself partitioned by ``RANGE (run_id)``; each run
  is one sub-partition ``score_history_r<run>`` holding ``[run, run + 1)``.
* ``create_run_history(run)`` (a running run only) creates that table unattached, with CHECK
  constraints that admit only the run's own rows stamped with its start time; ``churn_scorer`` may
  INSERT into it.  Readers of ``score_history`` do not see it.
* ``index_run_history(run)`` builds its two indexes (and statistics) once, after the rows are in.
* ``attach_run_history(run)``, in the publish transaction: revokes the INSERT (a published run can
  never gain rows), attaches the table to its month and gives it the TRUNCATE guard.  Because the
  table's constraints imply the partition bounds and its indexes match the parent's, the attach is a
  catalog change: no row is read or copied.  It takes SHARE UPDATE EXCLUSIVE on the month, which
  does not block readers (there is no default sub-partition: attaching beside one would lock it
  exclusively and stall every reader until the publish commits).
* ``drop_run_staging(run)`` also drops the run's history table if it was never attached (a failed or
  abandoned run leaves nothing).
* ``add_run_history_partition(run)``: the owner's way to write a run's rows through ``score_history``
  itself (a restore from an export, a backfill): an empty, attached partition for any run.  Not
  granted to any role.
* Months that already hold rows keep them in ``score_history_<month>_before`` ([MINVALUE, last run
  + 1) of the month); empty months are recreated.  Retention archives a month with its run tables.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION churndb.ensure_score_history_partition(at timestamptz) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
DECLARE
    lo   date := date_trunc('month', at AT TIME ZONE 'UTC')::date;
    hi   date := (date_trunc('month', at AT TIME ZONE 'UTC') + interval '1 month')::date;
    name text := format('score_history_%s', to_char(lo, 'YYYY_MM'));
BEGIN
    -- Two runs starting together must not both try to create the partition.
    PERFORM pg_advisory_xact_lock(7303, 0);
    IF to_regclass(format('churndb.%I', name)) IS NULL THEN
        EXECUTE format(
            'CREATE TABLE churndb.%I PARTITION OF churndb.score_history FOR VALUES FROM (%L) TO (%L) '
            'PARTITION BY RANGE (run_id)',
            name, (lo::timestamp AT TIME ZONE 'UTC'), (hi::timestamp AT TIME ZONE 'UTC'));
        EXECUTE format('CREATE TRIGGER partition_no_truncate BEFORE TRUNCATE ON churndb.%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION churndb.refuse_history_change()', name);
    END IF;
    RETURN name;
END
$fn$;

-- The unattached table of one run's rows: only that run's, only stamped with its start.  Internal.
CREATE FUNCTION churndb.new_run_history(run bigint, started timestamptz) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
DECLARE
    name text := format('score_history_r%s', run);
BEGIN
    IF to_regclass(format('churndb.%I', name)) IS NULL THEN
        EXECUTE format('CREATE TABLE churndb.%I (LIKE churndb.score_history INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                       name);
        EXECUTE format('ALTER TABLE churndb.%I ADD CONSTRAINT %I CHECK (run_id = %s AND scored_at = %L::timestamptz)',
                       name, name || '_rows', run, started);
    END IF;
    RETURN name;
END
$fn$;

-- The indexes score_history has on every partition, built once over the written rows.  Internal.
CREATE FUNCTION churndb.build_run_history_indexes(name text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = to_regclass(format('churndb.%I', name)) AND indisprimary) THEN
        EXECUTE format('ALTER TABLE churndb.%I ADD CONSTRAINT %I PRIMARY KEY (run_id, customer_id, scored_at)',
                       name, name || '_pkey');
        EXECUTE format('CREATE INDEX %I ON churndb.%I (customer_id, scored_at DESC)', name || '_customer', name);
        EXECUTE format('ANALYZE churndb.%I', name);
    END IF;
END
$fn$;

-- Attach a run's table to its month (a catalog change: constraints and indexes already match).  Internal.
CREATE FUNCTION churndb.attach_history_table(run bigint, started timestamptz) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
DECLARE
    name  text := format('score_history_r%s', run);
    month text := churndb.ensure_score_history_partition(started);
BEGIN
    PERFORM churndb.build_run_history_indexes(name);
    EXECUTE format('REVOKE INSERT ON churndb.%I FROM churn_scorer', name);
    EXECUTE format('ALTER TABLE churndb.%I ATTACH PARTITION churndb.%I FOR VALUES FROM (%s) TO (%s)',
                   month, name, run, run + 1);
    EXECUTE format('CREATE TRIGGER partition_no_truncate BEFORE TRUNCATE ON churndb.%I '
                   'FOR EACH STATEMENT EXECUTE FUNCTION churndb.refuse_history_change()', name);
END
$fn$;

CREATE FUNCTION churndb.running_run_start(run bigint) RETURNS timestamptz
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $fn$
DECLARE
    started timestamptz;
BEGIN
    SELECT r.started_at INTO started FROM churndb.scoring_runs r WHERE r.run_id = run AND r.status = 'running';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % is not running: its history cannot be written', run
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN started;
END
$fn$;

-- churn_scorer's three steps: create (the run writes into it), index, attach (the publish).
CREATE FUNCTION churndb.create_run_history(run bigint) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
DECLARE
    name text := churndb.new_run_history(run, churndb.running_run_start(run));
BEGIN
    EXECUTE format('GRANT SELECT, INSERT ON churndb.%I TO churn_scorer', name);
    RETURN name;
END
$fn$;

CREATE FUNCTION churndb.index_run_history(run bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
DECLARE
    started timestamptz := churndb.running_run_start(run);
    name text := format('score_history_r%s', run);
BEGIN
    IF to_regclass(format('churndb.%I', name)) IS NULL THEN
        RAISE EXCEPTION 'run % has no history table', run;
    END IF;
    PERFORM churndb.build_run_history_indexes(name);
END
$fn$;

CREATE FUNCTION churndb.attach_run_history(run bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
DECLARE
    started timestamptz := churndb.running_run_start(run);
    tbl regclass := to_regclass(format('churndb.score_history_r%s', run));
BEGIN
    IF tbl IS NULL OR (SELECT relispartition FROM pg_class WHERE oid = tbl) THEN
        RAISE EXCEPTION 'run % has no unattached history table', run;
    END IF;
    PERFORM churndb.attach_history_table(run, started);
END
$fn$;

-- The owner's: an empty, attached partition for any run, for rows written through score_history.
CREATE FUNCTION churndb.add_run_history_partition(run bigint) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
DECLARE
    started timestamptz := (SELECT r.started_at FROM churndb.scoring_runs r WHERE r.run_id = run);
    name text;
BEGIN
    IF started IS NULL THEN
        RAISE EXCEPTION 'no run %', run;
    END IF;
    name := churndb.new_run_history(run, started);
    IF NOT (SELECT relispartition FROM pg_class WHERE oid = to_regclass(format('churndb.%I', name))) THEN
        PERFORM churndb.attach_history_table(run, started);
    END IF;
    RETURN name;
END
$fn$;

CREATE OR REPLACE FUNCTION churndb.drop_run_staging(run bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
DECLARE
    history regclass := to_regclass(format('churndb.score_history_r%s', run));
BEGIN
    EXECUTE format('DROP TABLE IF EXISTS churndb.%I', format('score_staging_r%s', run));
    -- never history: only a table that was not attached (its run did not publish)
    IF history IS NOT NULL AND NOT (SELECT relispartition FROM pg_class WHERE oid = history) THEN
        EXECUTE format('DROP TABLE %s', history);
    END IF;
END
$fn$;

REVOKE EXECUTE ON FUNCTION churndb.new_run_history(bigint, timestamptz), churndb.build_run_history_indexes(text),
    churndb.attach_history_table(bigint, timestamptz), churndb.running_run_start(bigint),
    churndb.create_run_history(bigint), churndb.index_run_history(bigint), churndb.attach_run_history(bigint),
    churndb.add_run_history_partition(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION churndb.create_run_history(bigint), churndb.index_run_history(bigint),
    churndb.attach_run_history(bigint) TO churn_scorer;
"""

# Existing plain monthly partitions become run-partitioned months; their rows stay, in one sub-partition.
CONVERT = r"""
DO $do$
DECLARE
    part record;
    last bigint;
BEGIN
    FOR part IN SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
                FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'churndb.score_history'::regclass AND c.relkind = 'r'
                  AND c.relname <> 'score_history_default' LOOP
        EXECUTE format('ALTER TABLE churndb.score_history DETACH PARTITION churndb.%I', part.relname);
        EXECUTE format('SELECT max(run_id) FROM churndb.%I', part.relname) INTO last;
        IF last IS NULL THEN
            EXECUTE format('DROP TABLE churndb.%I', part.relname);
        ELSE
            EXECUTE format('ALTER TABLE churndb.%I RENAME TO %I', part.relname, part.relname || '_before');
        END IF;
        EXECUTE format('CREATE TABLE churndb.%I PARTITION OF churndb.score_history %s PARTITION BY RANGE (run_id)',
                       part.relname, part.bound);
        EXECUTE format('CREATE TRIGGER partition_no_truncate BEFORE TRUNCATE ON churndb.%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION churndb.refuse_history_change()', part.relname);
        IF last IS NOT NULL THEN
            -- the constraint lets later runs' attaches skip any look at these rows
            EXECUTE format('ALTER TABLE churndb.%I ADD CONSTRAINT %I CHECK (run_id < %s)',
                           part.relname || '_before', part.relname || '_before_runs', last + 1);
            EXECUTE format('ALTER TABLE churndb.%I ATTACH PARTITION churndb.%I FOR VALUES FROM (MINVALUE) TO (%s)',
                           part.relname, part.relname || '_before', last + 1);
        END IF;
    END LOOP;
END
$do$;
"""

# Back to plain monthly partitions: each month's rows copied into one table (run tables never attached
# are dropped: their runs did not publish).
REVERT = r"""
DO $do$
DECLARE
    part record;
BEGIN
    FOR part IN SELECT c.relname FROM pg_class c
                WHERE c.relnamespace = 'churndb'::regnamespace AND c.relname ~ '^score_history_r[0-9]+$'
                  AND NOT c.relispartition LOOP
        EXECUTE format('DROP TABLE churndb.%I', part.relname);
    END LOOP;
    FOR part IN SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
                FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'churndb.score_history'::regclass AND c.relkind = 'p' LOOP
        EXECUTE format('CREATE TABLE churndb.%I (LIKE churndb.score_history INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                       part.relname || '_flat');
        EXECUTE format('INSERT INTO churndb.%I SELECT * FROM churndb.%I', part.relname || '_flat', part.relname);
        EXECUTE format('ALTER TABLE churndb.score_history DETACH PARTITION churndb.%I', part.relname);
        EXECUTE format('DROP TABLE churndb.%I', part.relname);
        EXECUTE format('ALTER TABLE churndb.%I RENAME TO %I', part.relname || '_flat', part.relname);
        EXECUTE format('ALTER TABLE churndb.score_history ATTACH PARTITION churndb.%I %s', part.relname, part.bound);
        EXECUTE format('CREATE TRIGGER partition_no_truncate BEFORE TRUNCATE ON churndb.%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION churndb.refuse_history_change()', part.relname);
    END LOOP;
END
$do$;

DROP FUNCTION churndb.add_run_history_partition(bigint);
DROP FUNCTION churndb.attach_run_history(bigint);
DROP FUNCTION churndb.index_run_history(bigint);
DROP FUNCTION churndb.create_run_history(bigint);
DROP FUNCTION churndb.running_run_start(bigint);
DROP FUNCTION churndb.attach_history_table(bigint, timestamptz);
DROP FUNCTION churndb.build_run_history_indexes(text);
DROP FUNCTION churndb.new_run_history(bigint, timestamptz);

CREATE OR REPLACE FUNCTION churndb.ensure_score_history_partition(at timestamptz) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
DECLARE
    lo   date := date_trunc('month', at AT TIME ZONE 'UTC')::date;
    hi   date := (date_trunc('month', at AT TIME ZONE 'UTC') + interval '1 month')::date;
    name text := format('score_history_%s', to_char(lo, 'YYYY_MM'));
BEGIN
    PERFORM pg_advisory_xact_lock(7303, 0);
    IF to_regclass(format('churndb.%I', name)) IS NULL THEN
        EXECUTE format(
            'CREATE TABLE churndb.%I PARTITION OF churndb.score_history FOR VALUES FROM (%L) TO (%L)',
            name, (lo::timestamp AT TIME ZONE 'UTC'), (hi::timestamp AT TIME ZONE 'UTC'));
        EXECUTE format('CREATE TRIGGER partition_no_truncate BEFORE TRUNCATE ON churndb.%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION churndb.refuse_history_change()', name);
    END IF;
    RETURN name;
END
$fn$;

CREATE OR REPLACE FUNCTION churndb.drop_run_staging(run bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
BEGIN
    EXECUTE format('DROP TABLE IF EXISTS churndb.%I', format('score_staging_r%s', run));
END
$fn$;
"""


def upgrade() -> None:
    op.execute(CONVERT)
    op.execute(FUNCTIONS)


def downgrade() -> None:
    op.execute(REVERT)
