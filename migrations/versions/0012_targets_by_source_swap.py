"""``retention_targets`` is partitioned by source; a run builds its source's next partition and the
publish swaps it in: a publish that does not grow with the run.

Before, the publish upserted every target of the run into the CRM's table and marked the dropped ones,
holding the table's lock (CRM updates wait) for time that grew with the targets: 2.4M targets at 5M
customers.  Now:

* ``retention_targets`` is ``PARTITION BY LIST (source)``, one partition per source, primary key
  ``(customer_id, source)`` (a customer id belongs to one source).  Readers and the CRM use the
  parent exactly as before (SELECT, UPDATE of the crm_* columns, the same grants).
* ``create_run_targets(run, source)`` (a running run only) creates ``retention_targets_r<run>``
  unattached, with a CHECK that admits only the source's rows; the run fills it with its targets and
  the source's targets it no longer has (marked dropped), carrying the CRM's columns, before it takes
  the lock.  It reads the source's partition directly (``targets_partition``), which locks that
  partition only: another source's publish, which must lock the parent exclusively for its swap, is
  never stuck behind it.  A source with no partition yet reads ``retention_targets_none`` (always
  empty, never attached).  ``index_run_targets(run, snapshot)`` builds the parent's indexes on it (the
  key and current targets by risk; 0008's (source, risk) index is gone: one source per partition
  makes it a copy of the latter), then checks it as the owner: every customer of the source's
  partition is in it with the CRM's columns as the CRM left them, and no new customer carries CRM
  work; the scorer loses its write grant.  The scorer never had UPDATE on the CRM's columns and never
  had DELETE: a run cannot drop, blank or forge the CRM's rows through its own table either.
* A row trigger logs every CRM update (``crm_target_changes``: source, customer, transaction id).
  Under the lock, the publish copies the CRM columns of the customers changed by transactions the
  build could not see (``pg_visible_in_snapshot``): the CRM's work is never lost, and the lock is held
  for those few rows, not for every target.
* ``swap_run_targets(run, source, snapshot)``: only for a table checked against the partition in
  use now; the CRM's updates the build did not see are copied, the source's partition is detached and
  dropped, the run's attached (a catalog change: constraints and indexes already match).  DETACH takes the parent's ACCESS EXCLUSIVE lock for the rest of the publish transaction
  (milliseconds): readers wait that long.
* ``drop_run_staging(run)`` also drops a run's unattached targets table.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# Frozen copy of sql/views/v_crm_priority_targets.sql at this revision (replaced with its table).
CRM_VIEW = r"""
CREATE VIEW churndb.v_crm_priority_targets AS
-- What the CRM works from: current Critical and High targets to contact (control excluded), highest risk first.
SELECT customer_id, churn_probability, risk_score, risk_category, retention_action, suggested_offer,
       estimated_intervention_cost, estimated_revenue_at_risk, top_reasons, campaign_id, run_id, scored_at,
       crm_status, crm_owner, crm_notes, crm_updated_at, source, customer_key
FROM churndb.retention_targets
WHERE is_current AND treatment_group = 'treatment' AND risk_category IN ('Critical', 'High')
ORDER BY risk_score DESC, churn_probability DESC
"""

GRANTS = r"""
GRANT SELECT ON churndb.retention_targets, churndb.v_crm_priority_targets TO churn_crm;
GRANT UPDATE (crm_status, crm_owner, crm_notes, crm_updated_at) ON churndb.retention_targets TO churn_crm;
GRANT SELECT, INSERT ON churndb.retention_targets TO churn_scorer;
GRANT UPDATE (churn_probability, risk_score, risk_category, retention_action, suggested_offer,
    estimated_intervention_cost, estimated_revenue_at_risk, expected_net_value, top_reasons, treatment_group,
    campaign_id, policy_version, model_version, run_id, scored_at, is_current, first_targeted_at, dropped_at,
    customer_key, offer_arm, expected_uplift, uplift_model_version)
    ON churndb.retention_targets TO churn_scorer;
"""

UPGRADE = r"""
DROP VIEW churndb.v_crm_priority_targets;
ALTER TABLE churndb.retention_targets RENAME TO retention_targets_0011;
ALTER INDEX churndb.retention_targets_pkey RENAME TO retention_targets_0011_pkey;
ALTER INDEX churndb.retention_targets_current RENAME TO retention_targets_0011_current;
ALTER INDEX churndb.retention_targets_source RENAME TO retention_targets_0011_source;

CREATE TABLE churndb.retention_targets
    (LIKE churndb.retention_targets_0011 INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
    PARTITION BY LIST (source);
ALTER TABLE churndb.retention_targets ADD PRIMARY KEY (customer_id, source);
-- One source per partition: a source's current targets by risk are this index on its partition (the
-- (source, risk_score) index 0008 added would be a second copy of it, built by every run).
CREATE INDEX retention_targets_current ON churndb.retention_targets (risk_score DESC) WHERE is_current;
-- What a source's first run builds from: no targets (never attached, never written); and the shape of
-- every run's targets table (made LIKE this one: LIKE the parent would lock the parent until commit).
CREATE TABLE churndb.retention_targets_none
    (LIKE churndb.retention_targets INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON churndb.retention_targets_none FROM PUBLIC;

-- The CRM's updates, by transaction: what a run's build could not see is copied at its publish.
CREATE TABLE churndb.crm_target_changes (
    source      text   NOT NULL,
    customer_id bigint NOT NULL,
    xid         xid8   NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX crm_target_changes_source_xid ON churndb.crm_target_changes (source, xid);

CREATE FUNCTION churndb.log_crm_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
BEGIN
    INSERT INTO churndb.crm_target_changes (source, customer_id) VALUES (NEW.source, NEW.customer_id);
    RETURN NULL;
END
$fn$;
REVOKE EXECUTE ON FUNCTION churndb.log_crm_change() FROM PUBLIC;
CREATE TRIGGER retention_targets_crm_change
    AFTER UPDATE OF crm_status, crm_owner, crm_notes, crm_updated_at ON churndb.retention_targets
    FOR EACH ROW EXECUTE FUNCTION churndb.log_crm_change();

-- Today's rows: one partition per source, named by the newest run that published it.
DO $do$
DECLARE
    s record;
BEGIN
    FOR s IN SELECT source, max(run_id) AS run FROM churndb.retention_targets_0011 GROUP BY source LOOP
        EXECUTE format('CREATE TABLE churndb.%I PARTITION OF churndb.retention_targets FOR VALUES IN (%L)',
                       format('retention_targets_r%s', s.run), s.source);
        EXECUTE format('INSERT INTO churndb.%I SELECT * FROM churndb.retention_targets_0011 WHERE source = %L',
                       format('retention_targets_r%s', s.run), s.source);
        -- a run's build reads its source's partition directly
        EXECUTE format('GRANT SELECT ON churndb.%I TO churn_scorer', format('retention_targets_r%s', s.run));
    END LOOP;
END
$do$;
DROP TABLE churndb.retention_targets_0011;

-- The source a running run scores.  Internal.
CREATE FUNCTION churndb.running_run_source(run bigint) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $fn$
BEGIN
    PERFORM churndb.running_run_start(run);
    RETURN (SELECT r.source FROM churndb.scoring_runs r WHERE r.run_id = run);
END
$fn$;

-- The unattached table a run fills with its source's next targets.  Names come from the run id.
CREATE FUNCTION churndb.create_run_targets(run bigint, src text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
DECLARE
    name text := format('retention_targets_r%s', run);
BEGIN
    IF churndb.running_run_source(run) IS DISTINCT FROM src THEN
        RAISE EXCEPTION 'run % does not score source %', run, src USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF to_regclass(format('churndb.%I', name)) IS NULL THEN
        EXECUTE format('CREATE TABLE churndb.%I (LIKE churndb.retention_targets_none INCLUDING DEFAULTS '
                       'INCLUDING CONSTRAINTS)', name);
        EXECUTE format('ALTER TABLE churndb.%I ADD CONSTRAINT %I CHECK (source = %L)', name, name || '_source', src);
    END IF;
    EXECUTE format('GRANT SELECT, INSERT ON churndb.%I TO churn_scorer', name);
    RETURN name;
END
$fn$;

-- After the build, before the lock: the run's table gets the parent's indexes, and is checked against
-- the source's partition, which only the owner may drop: every customer there is in the run's table,
-- with the CRM's columns as the CRM left them (but for customers the CRM updated in transactions the
-- build's snapshot did not see: the publish copies those), and no new customer claims CRM work.  Then
-- the scorer can no longer write the table, and the check is recorded (a comment only the owner sets).
CREATE FUNCTION churndb.index_run_targets(run bigint, snapshot text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
DECLARE
    src  text := churndb.running_run_source(run);
    name text := format('retention_targets_r%s', run);
    tbl  regclass := to_regclass(format('churndb.%I', name));
    cur  regclass := coalesce(churndb.targets_partition(src), 'churndb.retention_targets_none'::regclass);
    bad  bigint;
BEGIN
    IF tbl IS NULL OR (SELECT relispartition FROM pg_class WHERE oid = tbl) THEN
        RAISE EXCEPTION 'run % has no unattached targets table', run;
    END IF;
    EXECUTE format('REVOKE INSERT, UPDATE, DELETE ON %s FROM churn_scorer', tbl);
    IF NOT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = tbl AND indisprimary) THEN
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I PRIMARY KEY (customer_id, source)', tbl, name || '_pkey');
        EXECUTE format('CREATE INDEX %I ON %s (risk_score DESC) WHERE is_current', name || '_current', tbl);
        EXECUTE format('ANALYZE %s', tbl);
    END IF;
    EXECUTE format($q$
        SELECT count(*) FROM %s o LEFT JOIN %s n ON n.customer_id = o.customer_id
        WHERE n.customer_id IS NULL
           OR ((n.crm_status, n.crm_owner, n.crm_notes, n.crm_updated_at)
                   IS DISTINCT FROM (o.crm_status, o.crm_owner, o.crm_notes, o.crm_updated_at)
               AND o.customer_id NOT IN (SELECT c.customer_id FROM churndb.crm_target_changes c
                                         WHERE c.source = $1 AND NOT pg_visible_in_snapshot(c.xid, $2::pg_snapshot)))
        $q$, cur, tbl) INTO bad USING src, snapshot;
    IF bad > 0 THEN
        RAISE EXCEPTION 'run %: its targets would lose or change the CRM''s columns of % customers of source %; '
                        'nothing was published', run, bad, src USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    EXECUTE format($q$
        SELECT count(*) FROM %s n
        WHERE (n.crm_status <> 'new' OR n.crm_owner IS NOT NULL OR n.crm_notes IS NOT NULL OR n.crm_updated_at IS NOT NULL)
          AND NOT EXISTS (SELECT 1 FROM %s o WHERE o.customer_id = n.customer_id)
        $q$, tbl, cur) INTO bad;
    IF bad > 0 THEN
        RAISE EXCEPTION 'run %: % new targets of source % carry CRM work they never had; nothing was published',
                        run, bad, src USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    EXECUTE format('COMMENT ON TABLE %s IS %L', tbl, format('checked against %s', cur::oid));
END
$fn$;

-- Under the publish's lock: the CRM's updates the build did not see copied from the source's partition
-- (a few rows), then the partition out and the run's in (catalog changes), and the change log pruned.
-- Only a table checked against the partition in use now is swapped in.
CREATE FUNCTION churndb.swap_run_targets(run bigint, src text, snapshot text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
DECLARE
    tbl regclass := to_regclass(format('churndb.retention_targets_r%s', run));
    old regclass;
BEGIN
    IF churndb.running_run_source(run) IS DISTINCT FROM src THEN
        RAISE EXCEPTION 'run % does not score source %', run, src USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF tbl IS NULL OR (SELECT relispartition FROM pg_class WHERE oid = tbl) THEN
        RAISE EXCEPTION 'run % has no unattached targets table', run;
    END IF;
    LOCK TABLE churndb.retention_targets IN SHARE ROW EXCLUSIVE MODE;
    old := churndb.targets_partition(src);
    IF obj_description(tbl, 'pg_class') IS DISTINCT FROM
           format('checked against %s', coalesce(old, 'churndb.retention_targets_none'::regclass)::oid) THEN
        RAISE EXCEPTION 'run %: source %''s targets changed since the run checked its own (another run published '
                        'first); nothing was published', run, src USING ERRCODE = 'serialization_failure';
    END IF;
    IF old IS NOT NULL THEN
        EXECUTE format($q$
            UPDATE %s n
            SET crm_status = o.crm_status, crm_owner = o.crm_owner, crm_notes = o.crm_notes,
                crm_updated_at = o.crm_updated_at
            FROM %s o
            WHERE o.customer_id = n.customer_id
              AND o.customer_id IN (SELECT c.customer_id FROM churndb.crm_target_changes c
                                    WHERE c.source = $1 AND c.xid >= pg_snapshot_xmin($2::pg_snapshot)
                                      AND NOT pg_visible_in_snapshot(c.xid, $2::pg_snapshot))
            $q$, tbl, old) USING src, snapshot;
        EXECUTE format('ALTER TABLE churndb.retention_targets DETACH PARTITION %s', old);
        EXECUTE format('DROP TABLE %s', old);
    END IF;
    EXECUTE format('ALTER TABLE churndb.retention_targets ATTACH PARTITION %s FOR VALUES IN (%L)', tbl, src);
    -- Changes every later build will see are no longer needed.
    DELETE FROM churndb.crm_target_changes c
    WHERE c.source = src AND c.xid < pg_snapshot_xmin(snapshot::pg_snapshot);
END
$fn$;

-- The partition that holds a source's targets now (NULL before its first publish).
CREATE FUNCTION churndb.targets_partition(src text) RETURNS regclass
LANGUAGE sql STABLE SET search_path = pg_catalog AS $fn$
    SELECT c.oid::regclass FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'churndb.retention_targets'::regclass
      AND pg_get_expr(c.relpartbound, c.oid) = format('FOR VALUES IN (%L)', src)
$fn$;

CREATE OR REPLACE FUNCTION churndb.drop_run_staging(run bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
DECLARE
    history regclass := to_regclass(format('churndb.score_history_r%s', run));
    targets regclass := to_regclass(format('churndb.retention_targets_r%s', run));
BEGIN
    EXECUTE format('DROP TABLE IF EXISTS churndb.%I', format('score_staging_r%s', run));
    -- never history or published targets: only tables that were not attached (their run did not publish)
    IF history IS NOT NULL AND NOT (SELECT relispartition FROM pg_class WHERE oid = history) THEN
        EXECUTE format('DROP TABLE %s', history);
    END IF;
    IF targets IS NOT NULL AND NOT (SELECT relispartition FROM pg_class WHERE oid = targets) THEN
        EXECUTE format('DROP TABLE %s', targets);
    END IF;
END
$fn$;

REVOKE EXECUTE ON FUNCTION churndb.running_run_source(bigint), churndb.create_run_targets(bigint, text),
    churndb.index_run_targets(bigint, text), churndb.swap_run_targets(bigint, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION churndb.create_run_targets(bigint, text), churndb.index_run_targets(bigint, text),
    churndb.swap_run_targets(bigint, text, text) TO churn_scorer;
GRANT SELECT ON churndb.crm_target_changes TO churn_scorer;
GRANT SELECT ON churndb.retention_targets_none TO churn_scorer;
"""

DOWNGRADE = r"""
DROP VIEW churndb.v_crm_priority_targets;
DROP FUNCTION churndb.create_run_targets(bigint, text);
DROP FUNCTION churndb.index_run_targets(bigint, text);
DROP FUNCTION churndb.swap_run_targets(bigint, text, text);
DROP FUNCTION churndb.running_run_source(bigint);
DROP FUNCTION churndb.targets_partition(text);
DROP TABLE churndb.retention_targets_none;
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
CREATE TABLE churndb.retention_targets_0012
    (LIKE churndb.retention_targets INCLUDING DEFAULTS INCLUDING CONSTRAINTS) WITH (fillfactor = 50);
INSERT INTO churndb.retention_targets_0012 SELECT * FROM churndb.retention_targets;
DROP TABLE churndb.retention_targets;
DROP TABLE churndb.crm_target_changes;
DROP FUNCTION churndb.log_crm_change();
ALTER TABLE churndb.retention_targets_0012 RENAME TO retention_targets;
ALTER TABLE churndb.retention_targets ADD CONSTRAINT retention_targets_pkey PRIMARY KEY (customer_id);
CREATE INDEX retention_targets_current ON churndb.retention_targets (risk_score DESC) WHERE is_current;
CREATE INDEX retention_targets_source ON churndb.retention_targets (source, risk_score DESC) WHERE is_current;
"""


def upgrade() -> None:
    op.execute(UPGRADE)
    op.execute(CRM_VIEW)
    op.execute(GRANTS)


def downgrade() -> None:
    op.execute(DOWNGRADE)
    op.execute(CRM_VIEW)
    op.execute(GRANTS)
