"""Partitioned (Dask) scoring runs and score-history retention.

A run scored by many workers still publishes in one transaction:

* ``run_partitions`` — the run's slices of the customer key space
  ``(after_customer_id, upto_customer_id]``.  A worker marks its slice done in
  the same transaction that writes the slice's rows, so a slice retried after a
  lost worker is either already done (its stored counts are returned, nothing is
  written twice) or written whole.
* ``score_staging`` — partitioned by run: each run gets its own (unlogged)
  partition, in which workers commit their slices.  Readers never look at it; the publish
  transaction moves the run's rows into ``score_history`` and
  ``retention_targets`` and drops the run's partition (instant, no DELETE).

History growth: ``score_history`` partitions are created months ahead by the
maintenance job, and partitions older than the retention setting are detached
into schema ``churndb_archive`` (logged in ``history_archive``), never deleted.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UPGRADE = r"""
ALTER TABLE churndb.scoring_runs
    ADD COLUMN executor   text NOT NULL DEFAULT 'local' CHECK (executor IN ('local', 'dask')),
    ADD COLUMN partitions integer;

CREATE TABLE churndb.run_partitions (
    run_id             bigint  NOT NULL REFERENCES churndb.scoring_runs ON DELETE CASCADE,
    partition_no       integer NOT NULL,
    after_customer_id  bigint  NOT NULL,
    upto_customer_id   bigint  NOT NULL,
    status             text    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done')),
    attempts           integer NOT NULL DEFAULT 0,
    worker             text,
    customers          integer,
    summary            jsonb,
    started_at         timestamptz,
    finished_at        timestamptz,
    PRIMARY KEY (run_id, partition_no),
    CHECK (after_customer_id < upto_customer_id)
);

-- Workers' committed slices of a run in progress; one partition per run, dropped at publish.
CREATE TABLE churndb.score_staging (
    run_id             bigint  NOT NULL,
    partition_no       integer NOT NULL,
    customer_id        bigint  NOT NULL,
    churn_probability  double precision NOT NULL,
    risk_score         smallint NOT NULL,
    risk_category      text    NOT NULL,
    retention_action   text    NOT NULL,
    estimated_intervention_cost numeric(12,2) NOT NULL,
    estimated_revenue_at_risk   numeric(14,2) NOT NULL,
    snapshot_date      date,
    top_reasons        jsonb,
    targeted           boolean NOT NULL,
    suggested_offer    text,
    expected_net_value numeric(14,2),
    treatment_group    text NOT NULL
) PARTITION BY LIST (run_id);

CREATE FUNCTION churndb.create_run_staging(run bigint) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
DECLARE
    name text := format('score_staging_r%s', run);
BEGIN
    IF to_regclass(format('churndb.%I', name)) IS NULL THEN
        -- Unlogged: workers' slices skip the WAL.  A server crash empties the table; the publish then finds
        -- fewer staged rows than done slices promise and fails the run (nothing published), never publishes less.
        EXECUTE format('CREATE UNLOGGED TABLE churndb.%I PARTITION OF churndb.score_staging FOR VALUES IN (%s)',
                       name, run);
    END IF;
    RETURN name;
END
$fn$;

CREATE FUNCTION churndb.drop_run_staging(run bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
BEGIN
    EXECUTE format('DROP TABLE IF EXISTS churndb.%I', format('score_staging_r%s', run));
END
$fn$;

CREATE SCHEMA churndb_archive;
CREATE TABLE churndb.history_archive (
    partition_name  text PRIMARY KEY,
    range_from      timestamptz NOT NULL,
    range_to        timestamptz NOT NULL,
    row_count       bigint NOT NULL,
    archived_at     timestamptz NOT NULL DEFAULT now(),
    archived_to     text NOT NULL
);

REVOKE EXECUTE ON FUNCTION churndb.create_run_staging(bigint), churndb.drop_run_staging(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION churndb.create_run_staging(bigint), churndb.drop_run_staging(bigint) TO churn_scorer;
GRANT SELECT, INSERT, UPDATE ON churndb.run_partitions TO churn_scorer;
GRANT SELECT, INSERT ON churndb.score_staging TO churn_scorer;
GRANT SELECT ON churndb.run_partitions, churndb.history_archive TO churn_auditor;
GRANT USAGE ON SCHEMA churndb_archive TO churn_auditor;
"""

# Frozen copy of sql/views/v_run_progress.sql as installed by this revision.
RUN_PROGRESS = r"""
SELECT r.run_id, r.status, r.executor, r.is_shadow, r.model_version, r.started_at, r.finished_at,
       r.partitions AS partitions_planned,
       count(p.partition_no) FILTER (WHERE p.status = 'done') AS partitions_done,
       coalesce(sum(p.attempts - 1) FILTER (WHERE p.attempts > 1), 0) AS partition_retries,
       coalesce(r.customers_scored, sum(p.customers)) AS customers_scored,
       r.error
FROM churndb.scoring_runs r
LEFT JOIN churndb.run_partitions p ON p.run_id = r.run_id
GROUP BY r.run_id
"""

DOWNGRADE = r"""
DROP VIEW churndb.v_run_progress;
DROP TABLE churndb.history_archive;
DROP SCHEMA churndb_archive;
DROP FUNCTION churndb.drop_run_staging(bigint);
DROP FUNCTION churndb.create_run_staging(bigint);
DROP TABLE churndb.score_staging;
DROP TABLE churndb.run_partitions;
ALTER TABLE churndb.scoring_runs DROP COLUMN partitions, DROP COLUMN executor;
"""


def upgrade() -> None:
    op.execute(UPGRADE)
    op.execute(f"CREATE VIEW churndb.v_run_progress AS\n{RUN_PROGRESS}")
    op.execute("GRANT SELECT ON churndb.v_run_progress TO churn_auditor, churn_bi")


def downgrade() -> None:
    # Archived partitions are data: a downgrade refuses to drop the schema while it holds any (DROP SCHEMA
    # without CASCADE fails), so nothing archived is lost by a downgrade.
    op.execute(DOWNGRADE)
