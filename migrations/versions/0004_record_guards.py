"""The record can be appended to, not rewritten, by anyone but its owner.

A review found that ``churn_scorer`` (the role that runs training and scoring) could crown a rejected
model without a deployment row, overwrite a model's artifact and signature, flip a failed run to
succeeded, and add rows to an already published run.  Triggers now guard the record for every role
except the tables' owner (who could disable a trigger anyway):

* ``model_versions``: the artifact, its sha256 and signature, the spec, features, metrics and hold-out
  info are fixed once registered (only a promotion decision may be added to ``training``); status
  moves only candidate -> champion | rejected, champion -> retired, retired -> champion, and a model
  becomes champion only with a ``model_deployments`` row written in the same transaction.
* ``scoring_runs``: a run is inserted 'running'; only a running run changes, and only to succeeded or
  failed; its identity (model, policy, snapshot date, start time) is fixed.
* ``score_history``: rows are accepted only for a run that is still running, stamped with that run's
  start time, so a published run can never gain rows (or a customer twice).
* Every monthly partition of ``score_history`` refuses TRUNCATE itself (the parent's trigger does not
  fire for a partition truncated directly); ``ensure_score_history_partition`` adds it to new ones.
* ``churn_bi`` no longer reads ``v_crm_priority_targets``, which carries the CRM's free text
  (``crm_owner``, ``crm_notes``).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

GUARDS = r"""
-- True when the current role owns the guarded table: the owner is not held back by these guards.
CREATE FUNCTION churndb.acting_as_owner(tbl regclass) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog AS
$fn$ SELECT pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = tbl), 'MEMBER') $fn$;

CREATE FUNCTION churndb.guard_model_version() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
BEGIN
    IF churndb.acting_as_owner(TG_RELID) THEN
        RETURN NEW;
    END IF;
    IF NEW.model_version <> OLD.model_version OR NEW.artifact IS DISTINCT FROM OLD.artifact
       OR NEW.artifact_sha256 IS DISTINCT FROM OLD.artifact_sha256
       OR NEW.artifact_signature IS DISTINCT FROM OLD.artifact_signature
       OR NEW.spec IS DISTINCT FROM OLD.spec OR NEW.feature_spec IS DISTINCT FROM OLD.feature_spec
       OR NEW.metrics IS DISTINCT FROM OLD.metrics OR NEW.library_versions IS DISTINCT FROM OLD.library_versions
       OR NEW.created_at IS DISTINCT FROM OLD.created_at
       OR (NEW.training - 'promotion_decision') IS DISTINCT FROM (OLD.training - 'promotion_decision') THEN
        RAISE EXCEPTION 'model % is registered: its artifact, signature, spec and measurements cannot change',
            OLD.model_version USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        IF (OLD.status, NEW.status) NOT IN (('candidate', 'champion'), ('candidate', 'rejected'),
                                            ('champion', 'retired'), ('retired', 'champion')) THEN
            RAISE EXCEPTION 'model %: % -> % is not a registry transition', OLD.model_version, OLD.status, NEW.status
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF NEW.status = 'champion' AND NOT EXISTS (
                SELECT 1 FROM churndb.model_deployments d
                WHERE d.to_version = NEW.model_version AND d.deployed_at = now()) THEN
            RAISE EXCEPTION 'model % becomes champion only with a deployment record in the same transaction',
                OLD.model_version USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    RETURN NEW;
END
$fn$;
CREATE TRIGGER model_versions_guard BEFORE UPDATE ON churndb.model_versions
    FOR EACH ROW EXECUTE FUNCTION churndb.guard_model_version();

CREATE FUNCTION churndb.guard_scoring_run() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
BEGIN
    IF churndb.acting_as_owner(TG_RELID) THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'running' THEN
            RAISE EXCEPTION 'a scoring run starts as running, not %', NEW.status
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END IF;
    IF OLD.status <> 'running' THEN
        RAISE EXCEPTION 'run % is % and can no longer change', OLD.run_id, OLD.status
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.run_id <> OLD.run_id OR NEW.model_version IS DISTINCT FROM OLD.model_version
       OR NEW.policy_version IS DISTINCT FROM OLD.policy_version OR NEW.as_of_date IS DISTINCT FROM OLD.as_of_date
       OR NEW.started_at IS DISTINCT FROM OLD.started_at OR NEW.is_shadow IS DISTINCT FROM OLD.is_shadow THEN
        RAISE EXCEPTION 'run %: what it scores and when it started cannot change', OLD.run_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$fn$;
CREATE TRIGGER scoring_runs_guard BEFORE INSERT OR UPDATE ON churndb.scoring_runs
    FOR EACH ROW EXECUTE FUNCTION churndb.guard_scoring_run();

-- One check per statement (a COPY of 100,000 rows is one join), not one per row.
CREATE FUNCTION churndb.guard_history_rows() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
DECLARE
    bad record;
BEGIN
    IF churndb.acting_as_owner('churndb.score_history'::regclass) THEN
        RETURN NULL;
    END IF;
    SELECT a.run_id, r.status INTO bad
    FROM added a LEFT JOIN churndb.scoring_runs r ON r.run_id = a.run_id
    WHERE r.status IS DISTINCT FROM 'running' OR a.scored_at IS DISTINCT FROM r.started_at
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'score_history accepts rows only for a running run, stamped with its start (run %, %)',
            bad.run_id, coalesce(bad.status, 'no such run') USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER score_history_only_running_runs AFTER INSERT ON churndb.score_history
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION churndb.guard_history_rows();

-- Partitions refuse TRUNCATE themselves.
DO $do$
DECLARE
    part regclass;
BEGIN
    FOR part IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'churndb.score_history'::regclass LOOP
        EXECUTE format('CREATE TRIGGER partition_no_truncate BEFORE TRUNCATE ON %s '
                       'FOR EACH STATEMENT EXECUTE FUNCTION churndb.refuse_history_change()', part);
    END LOOP;
END
$do$;
"""

PARTITION_FUNCTION = r"""
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
            'CREATE TABLE churndb.%I PARTITION OF churndb.score_history FOR VALUES FROM (%L) TO (%L)',
            name, (lo::timestamp AT TIME ZONE 'UTC'), (hi::timestamp AT TIME ZONE 'UTC'));
        EXECUTE format('CREATE TRIGGER partition_no_truncate BEFORE TRUNCATE ON churndb.%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION churndb.refuse_history_change()', name);
    END IF;
    RETURN name;
END
$fn$;
"""

PREVIOUS_PARTITION_FUNCTION = r"""
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
            'CREATE TABLE churndb.%I PARTITION OF churndb.score_history FOR VALUES FROM (%L) TO (%L)',
            name, (lo::timestamp AT TIME ZONE 'UTC'), (hi::timestamp AT TIME ZONE 'UTC'));
    END IF;
    RETURN name;
END
$fn$;
"""

DROP_GUARDS = r"""
DO $do$
DECLARE
    part regclass;
BEGIN
    FOR part IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'churndb.score_history'::regclass LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS partition_no_truncate ON %s', part);
    END LOOP;
END
$do$;
DROP TRIGGER score_history_only_running_runs ON churndb.score_history;
DROP TRIGGER scoring_runs_guard ON churndb.scoring_runs;
DROP TRIGGER model_versions_guard ON churndb.model_versions;
DROP FUNCTION churndb.guard_history_rows();
DROP FUNCTION churndb.guard_scoring_run();
DROP FUNCTION churndb.guard_model_version();
DROP FUNCTION churndb.acting_as_owner(regclass);
"""


def upgrade() -> None:
    op.execute(GUARDS)
    op.execute(PARTITION_FUNCTION)
    op.execute("REVOKE SELECT ON churndb.v_crm_priority_targets FROM churn_bi")


def downgrade() -> None:
    op.execute("GRANT SELECT ON churndb.v_crm_priority_targets TO churn_bi")
    op.execute(PREVIOUS_PARTITION_FUNCTION)
    op.execute(DROP_GUARDS)
