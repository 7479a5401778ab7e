"""Foundation schema: snapshots, outcomes, ingest bookkeeping, registry, runs,
append-only score history, retention targets, policy, monitoring, job runs.

Everything lives in schema ``churndb``; tables loaded with ``ingest --table``
live in ``churndb_import``.  The DDL is frozen here on purpose: a migration
never reads today's files, so replaying history installs what it installed then.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE SCHEMA IF NOT EXISTS churndb;
CREATE SCHEMA IF NOT EXISTS churndb_import;
COMMENT ON SCHEMA churndb IS 'churndb: churn scoring system of record';
COMMENT ON SCHEMA churndb_import IS 'churndb: customer tables loaded with ingest --table';

-- Every file load; rows_in = rows_loaded + rows_rejected is enforced.
CREATE TABLE churndb.ingest_batches (
    batch_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_file     text        NOT NULL,
    file_sha256     text        NOT NULL,
    target_table    text        NOT NULL,
    as_of_date      date,
    rows_in         integer     NOT NULL CHECK (rows_in >= 0),
    rows_loaded     integer     NOT NULL CHECK (rows_loaded >= 0),
    rows_rejected   integer     NOT NULL CHECK (rows_rejected >= 0),
    labels_loaded   integer     NOT NULL DEFAULT 0,
    details         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    loaded_at       timestamptz NOT NULL DEFAULT now(),
    loaded_by       text        NOT NULL DEFAULT current_user,
    CONSTRAINT ingest_batches_reconciled CHECK (rows_in = rows_loaded + rows_rejected)
);
-- The same file loaded again for the same date and table is the same batch.
CREATE UNIQUE INDEX ingest_batches_same_file
    ON churndb.ingest_batches (file_sha256, target_table, coalesce(as_of_date, 'infinity'::date));

-- Quarantine: every input row that was not loaded, with its raw text and why.
CREATE TABLE churndb.rejected_rows (
    batch_id     bigint  NOT NULL REFERENCES churndb.ingest_batches ON DELETE CASCADE,
    line_number  integer NOT NULL,
    customer_id  text,
    raw_line     text    NOT NULL,
    reason       text    NOT NULL,
    PRIMARY KEY (batch_id, line_number)
);

-- Point-in-time customer attributes (telecom schema); one row per customer per as-of date.
CREATE TABLE churndb.customer_snapshots (
    customer_id                     bigint  NOT NULL CHECK (customer_id > 0),
    as_of_date                      date    NOT NULL,
    gender                          text,
    age                             integer CHECK (age BETWEEN 18 AND 100),
    region_circle                   text,
    connection_type                 text,
    plan_type                       text,
    contract_type                   text,
    base_plan_category              text,
    tenure_months                   integer CHECK (tenure_months >= 0),
    monthly_charges                 numeric(12,2) CHECK (monthly_charges >= 0),
    total_charges                   numeric(14,2) CHECK (total_charges >= 0),
    avg_data_gb_month               double precision CHECK (avg_data_gb_month >= 0),
    avg_voice_mins_month            double precision CHECK (avg_voice_mins_month >= 0),
    sms_count_month                 double precision CHECK (sms_count_month >= 0),
    overage_charges                 numeric(12,2) CHECK (overage_charges >= 0),
    is_family_plan                  smallint CHECK (is_family_plan IN (0, 1)),
    is_multi_service                smallint CHECK (is_multi_service IN (0, 1)),
    network_issues_3m               integer CHECK (network_issues_3m >= 0),
    dropped_call_rate               double precision CHECK (dropped_call_rate BETWEEN 0 AND 1),
    avg_data_speed_mbps             double precision CHECK (avg_data_speed_mbps >= 0),
    num_complaints_3m               integer CHECK (num_complaints_3m >= 0),
    num_complaints_12m              integer CHECK (num_complaints_12m >= 0),
    call_center_interactions_3m     integer CHECK (call_center_interactions_3m >= 0),
    last_complaint_resolution_days  double precision CHECK (last_complaint_resolution_days >= 0),
    app_logins_30d                  integer CHECK (app_logins_30d >= 0),
    selfcare_transactions_30d       integer CHECK (selfcare_transactions_30d >= 0),
    auto_pay_enrolled               smallint CHECK (auto_pay_enrolled IN (0, 1)),
    late_payment_flag_3m            smallint CHECK (late_payment_flag_3m IN (0, 1)),
    avg_payment_delay_days          double precision CHECK (avg_payment_delay_days >= 0),
    arpu                            numeric(12,2) CHECK (arpu >= 0),
    segment_value                   text,
    nps_score                       double precision CHECK (nps_score BETWEEN -100 AND 100),
    service_rating_last_6m          double precision CHECK (service_rating_last_6m BETWEEN 1 AND 5),
    received_competitor_offer_flag  smallint CHECK (received_competitor_offer_flag IN (0, 1)),
    retention_offer_accepted_flag   smallint CHECK (retention_offer_accepted_flag IN (0, 1)),
    batch_id                        bigint  NOT NULL REFERENCES churndb.ingest_batches,
    PRIMARY KEY (customer_id, as_of_date),
    CONSTRAINT complaints_3m_within_12m CHECK (num_complaints_3m <= num_complaints_12m)
);
CREATE INDEX customer_snapshots_as_of ON churndb.customer_snapshots (as_of_date, customer_id);

-- Labels.  observed_as_of: the snapshot date a training extract's is_churn refers to,
-- or the churn date itself for rows from an outcome feed.
CREATE TABLE churndb.churn_outcomes (
    customer_id     bigint  NOT NULL CHECK (customer_id > 0),
    observed_as_of  date    NOT NULL,
    churned         boolean NOT NULL,
    churned_on      date,
    source          text    NOT NULL,
    batch_id        bigint  REFERENCES churndb.ingest_batches,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, observed_as_of)
);
CREATE INDEX churn_outcomes_churned_on ON churndb.churn_outcomes (churned_on) WHERE churned_on IS NOT NULL;

-- Model registry.  At most one champion, enforced by a unique partial index.
CREATE TABLE churndb.model_versions (
    model_version       integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    status              text NOT NULL DEFAULT 'candidate'
                        CHECK (status IN ('candidate', 'champion', 'retired', 'rejected')),
    spec                jsonb NOT NULL,
    feature_spec        jsonb NOT NULL,
    training            jsonb NOT NULL,
    metrics             jsonb NOT NULL,
    library_versions    jsonb NOT NULL,
    artifact            bytea NOT NULL,
    artifact_sha256     text  NOT NULL,
    artifact_signature  text  NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    created_by          text NOT NULL DEFAULT current_user,
    promoted_at         timestamptz,
    promoted_by         text
);
CREATE UNIQUE INDEX model_versions_one_champion ON churndb.model_versions ((true)) WHERE status = 'champion';

-- Every promotion / rollback: "who was champion at time T" is one query.
CREATE TABLE churndb.model_deployments (
    deployment_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    deployed_at    timestamptz NOT NULL DEFAULT now(),
    action         text NOT NULL CHECK (action IN ('promote', 'rollback')),
    from_version   integer REFERENCES churndb.model_versions,
    to_version     integer NOT NULL REFERENCES churndb.model_versions,
    reason         text NOT NULL,
    actor          text NOT NULL DEFAULT current_user,
    details        jsonb NOT NULL DEFAULT '{}'::jsonb
);

-- Segment policy: versioned and effective-dated; a run uses the version in force when it starts.
CREATE TABLE churndb.segment_policy (
    policy_version        integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    effective_from        timestamptz NOT NULL DEFAULT now(),
    success_rate          numeric(5,4) NOT NULL CHECK (success_rate > 0 AND success_rate <= 1),
    value_horizon_months  integer NOT NULL CHECK (value_horizon_months > 0),
    control_share         numeric(5,4) NOT NULL DEFAULT 0.10 CHECK (control_share >= 0 AND control_share < 1),
    program_budget        numeric(14,2) CHECK (program_budget > 0),
    contact_capacity      integer CHECK (contact_capacity > 0),
    reason_playbooks      jsonb NOT NULL DEFAULT '{}'::jsonb,
    note                  text,
    created_at            timestamptz NOT NULL DEFAULT now(),
    created_by            text NOT NULL DEFAULT current_user
);

CREATE TABLE churndb.segment_policy_bands (
    policy_version       integer NOT NULL REFERENCES churndb.segment_policy ON DELETE CASCADE,
    risk_category        text    NOT NULL,
    min_score            integer NOT NULL CHECK (min_score BETWEEN 0 AND 100),
    max_score            integer NOT NULL CHECK (max_score BETWEEN 0 AND 100),
    retention_action     text    NOT NULL,
    intervention_cost    numeric(12,2) NOT NULL CHECK (intervention_cost >= 0),
    targeted             boolean NOT NULL,
    PRIMARY KEY (policy_version, risk_category),
    CHECK (min_score <= max_score)
);

WITH p AS (
    INSERT INTO churndb.segment_policy
        (effective_from, success_rate, value_horizon_months, control_share, reason_playbooks, note)
    VALUES ('-infinity', 0.40, 12, 0.10, '{
        "num_complaints_3m": "Priority complaint resolution with a named case owner",
        "complaint_trend": "Priority complaint resolution with a named case owner",
        "last_complaint_resolution_days": "Service recovery call and bill credit",
        "call_center_interactions_3m": "Service recovery call and bill credit",
        "network_issues_3m": "Network check and coverage fix (booster / femtocell)",
        "dropped_call_rate": "Network check and coverage fix (booster / femtocell)",
        "network_pain": "Network check and coverage fix (booster / femtocell)",
        "avg_data_speed_mbps": "Speed upgrade or 5G / fibre migration offer",
        "monthly_charges": "Plan right-sizing review",
        "price_increase_ratio": "Plan right-sizing review",
        "overage_charges": "Bigger bundle at the current price",
        "overage_share": "Bigger bundle at the current price",
        "contract_type": "Contract renewal with loyalty discount",
        "tenure_months": "Early-life welcome call and onboarding offer",
        "early_tenure": "Early-life welcome call and onboarding offer",
        "received_competitor_offer_flag": "Competitive match offer",
        "late_payment_flag_3m": "Payment plan and auto-pay incentive",
        "avg_payment_delay_days": "Payment plan and auto-pay incentive",
        "auto_pay_enrolled": "Payment plan and auto-pay incentive",
        "app_logins_30d": "App onboarding and digital perks",
        "digital_engagement": "App onboarding and digital perks"
    }'::jsonb, 'seed defaults of the original deployment')
    RETURNING policy_version
)
INSERT INTO churndb.segment_policy_bands
    (policy_version, risk_category, min_score, max_score, retention_action, intervention_cost, targeted)
SELECT p.policy_version, b.*
FROM p, (VALUES
    ('Critical', 75, 100, 'Urgent intervention',       150.00, true),
    ('High',     50,  74, 'VIP retention program',      75.00, true),
    ('Medium',   25,  49, 'Enhanced engagement offers', 25.00, true),
    ('Low',       0,  24, 'Standard monitoring',         0.00, false)
) AS b(risk_category, min_score, max_score, retention_action, intervention_cost, targeted);

-- One row per scoring run; only 'succeeded' runs are visible to readers.
CREATE TABLE churndb.scoring_runs (
    run_id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_version     integer NOT NULL REFERENCES churndb.model_versions,
    policy_version    integer REFERENCES churndb.segment_policy,
    as_of_date        date,
    source            text NOT NULL DEFAULT 'customer_snapshots',
    campaign_id       text,
    is_shadow         boolean NOT NULL DEFAULT false,
    status            text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
    started_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    customers_scored  integer,
    targets           integer,
    stage_seconds     jsonb NOT NULL DEFAULT '{}'::jsonb,
    error             text,
    host              text,
    pid               integer
);
CREATE INDEX scoring_runs_published ON churndb.scoring_runs (finished_at DESC) WHERE status = 'succeeded';

-- Every score ever written, partitioned by month of scored_at.  A run's rows all
-- carry the run's start time, so (run_id, customer_id) is unique across partitions.
CREATE TABLE churndb.score_history (
    scored_at          timestamptz NOT NULL,
    run_id             bigint      NOT NULL,
    customer_id        bigint      NOT NULL,
    model_version      integer     NOT NULL,
    churn_probability  double precision NOT NULL CHECK (churn_probability BETWEEN 0 AND 1),
    risk_score         smallint    NOT NULL CHECK (risk_score BETWEEN 0 AND 100),
    risk_category      text        NOT NULL,
    retention_action   text        NOT NULL,
    estimated_intervention_cost numeric(12,2) NOT NULL,
    estimated_revenue_at_risk   numeric(14,2) NOT NULL,
    snapshot_date      date,
    is_shadow          boolean     NOT NULL DEFAULT false,
    top_reasons        jsonb,
    PRIMARY KEY (run_id, customer_id, scored_at)
) PARTITION BY RANGE (scored_at);
CREATE INDEX score_history_customer ON churndb.score_history (customer_id, scored_at DESC);
CREATE TABLE churndb.score_history_default PARTITION OF churndb.score_history DEFAULT;

-- Monthly partition covering a timestamp (idempotent); jobs call it before writing.
CREATE FUNCTION churndb.ensure_score_history_partition(at timestamptz) RETURNS text
LANGUAGE plpgsql AS $fn$
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

-- History is append-only: UPDATE, DELETE and TRUNCATE are refused by the database.
CREATE FUNCTION churndb.refuse_history_change() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION 'churndb.% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$fn$;
CREATE TRIGGER score_history_append_only
    BEFORE UPDATE OR DELETE ON churndb.score_history
    FOR EACH ROW EXECUTE FUNCTION churndb.refuse_history_change();
CREATE TRIGGER score_history_no_truncate
    BEFORE TRUNCATE ON churndb.score_history
    FOR EACH STATEMENT EXECUTE FUNCTION churndb.refuse_history_change();

-- What the CRM reads: one current row per targeted customer.  crm_* columns belong to the CRM.
CREATE TABLE churndb.retention_targets (
    customer_id                  bigint PRIMARY KEY,
    churn_probability            double precision NOT NULL,
    risk_score                   smallint NOT NULL,
    risk_category                text NOT NULL,
    retention_action             text NOT NULL,
    suggested_offer              text,
    estimated_intervention_cost  numeric(12,2) NOT NULL,
    estimated_revenue_at_risk    numeric(14,2) NOT NULL,
    expected_net_value           numeric(14,2),
    top_reasons                  jsonb,
    treatment_group              text NOT NULL CHECK (treatment_group IN ('treatment', 'control')),
    campaign_id                  text NOT NULL,
    policy_version               integer NOT NULL,
    model_version                integer NOT NULL,
    run_id                       bigint NOT NULL,
    scored_at                    timestamptz NOT NULL,
    is_current                   boolean NOT NULL DEFAULT true,
    first_targeted_at            timestamptz NOT NULL DEFAULT now(),
    dropped_at                   timestamptz,
    crm_status                   text NOT NULL DEFAULT 'new',
    crm_owner                    text,
    crm_notes                    text,
    crm_updated_at               timestamptz
);
CREATE INDEX retention_targets_current ON churndb.retention_targets (risk_score DESC) WHERE is_current;

-- What the CRM did and what happened, for realized ROI.
CREATE TABLE churndb.intervention_outcomes (
    campaign_id       text   NOT NULL,
    customer_id       bigint NOT NULL,
    run_id            bigint,
    treatment_group   text   NOT NULL CHECK (treatment_group IN ('treatment', 'control')),
    risk_category     text,
    contacted_at      timestamptz,
    offer_accepted    boolean,
    churned           boolean,
    churned_on        date,
    monthly_charges   numeric(12,2),
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campaign_id, customer_id)
);

CREATE TABLE churndb.monitoring_metrics (
    metric_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    computed_at    timestamptz NOT NULL DEFAULT now(),
    run_id         bigint,
    model_version  integer,
    metric         text NOT NULL,
    subject        text NOT NULL DEFAULT '',
    value          double precision,
    details        jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX monitoring_metrics_lookup ON churndb.monitoring_metrics (metric, computed_at DESC);

CREATE TABLE churndb.alerts (
    alert_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    raised_at        timestamptz NOT NULL DEFAULT now(),
    rule             text NOT NULL,
    severity         text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    message          text NOT NULL,
    run_id           bigint,
    model_version    integer,
    details          jsonb NOT NULL DEFAULT '{}'::jsonb,
    acknowledged_at  timestamptz,
    acknowledged_by  text
);

CREATE TABLE churndb.job_runs (
    job_run_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job          text NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    status       text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'skipped')),
    error        text,
    host         text,
    pid          integer,
    details      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX job_runs_recent ON churndb.job_runs (job, started_at DESC);
"""

DOWNGRADE = r"""
DROP TABLE IF EXISTS churndb.job_runs, churndb.alerts, churndb.monitoring_metrics,
    churndb.intervention_outcomes, churndb.retention_targets;
DROP TABLE IF EXISTS churndb.score_history CASCADE;
DROP FUNCTION IF EXISTS churndb.refuse_history_change();
DROP FUNCTION IF EXISTS churndb.ensure_score_history_partition(timestamptz);
DROP TABLE IF EXISTS churndb.scoring_runs, churndb.segment_policy_bands, churndb.segment_policy,
    churndb.model_deployments, churndb.model_versions, churndb.churn_outcomes,
    churndb.customer_snapshots, churndb.rejected_rows, churndb.ingest_batches;
DROP SCHEMA IF EXISTS churndb;
-- Tables loaded with ingest --table are the user's data: the schema goes only if empty.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname = 'churndb_import') THEN
        DROP SCHEMA IF EXISTS churndb_import;
    END IF;
END
$$;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
