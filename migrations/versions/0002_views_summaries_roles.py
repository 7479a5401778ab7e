"""Views for BI, the CRM and auditors; run summaries that keep them fast; database roles.

Each view's text is frozen here as it was installed (Alembic "replaceable
objects"): ``sql/views/`` holds the current definitions, and a test checks the
two agree at head.  A later change to a view is a new revision with a new
frozen copy; this one never reads ``sql/`` at run time.

Run summaries (``run_segment_summary``, ``run_roi_summary``, the run's score
and feature histograms in ``scoring_runs.summary``) are written in the same
transaction that publishes a run, so the views over them answer in
milliseconds at millions of customers and stay consistent with the run.

Roles are NOLOGIN groups a DBA grants to real users:
churn_crm (read targets, update only crm_* columns), churn_bi (read views),
churn_scorer (what the jobs write), churn_auditor (read history and model
metadata, not artifact bytes).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

VIEWS = {
    "v_published_runs": r"""
-- Scoring runs readers may see: succeeded, not shadow; recency = 1 is the latest.
SELECT r.run_id, r.model_version, r.policy_version, r.as_of_date, r.campaign_id, r.started_at, r.finished_at,
       r.customers_scored, r.targets, r.stage_seconds,
       row_number() OVER (ORDER BY r.finished_at DESC, r.run_id DESC) AS recency
FROM churndb.scoring_runs r
WHERE r.status = 'succeeded' AND NOT r.is_shadow
""",
    "v_current_scores": r"""
-- Each customer's latest published score: the rows of the latest published run
-- (every run scores every current customer).
SELECT h.customer_id, h.churn_probability, h.risk_score, h.risk_category, h.retention_action,
       h.estimated_intervention_cost, h.estimated_revenue_at_risk, h.top_reasons, h.model_version, h.run_id,
       h.scored_at, h.snapshot_date
FROM churndb.score_history h
WHERE h.run_id = (SELECT run_id FROM churndb.v_published_runs WHERE recency = 1)
""",
    "v_risk_segments": r"""
-- Per risk category of the latest published run: customers, share, average score,
-- revenue at risk and intervention cost (from the run's summary, written when it was published).
SELECT s.run_id, s.risk_category, s.customers,
       s.customers::float8 / sum(s.customers) OVER () AS share,
       s.avg_score, s.revenue_at_risk, s.intervention_cost
FROM churndb.run_segment_summary s
WHERE s.run_id = (SELECT run_id FROM churndb.v_published_runs WHERE recency = 1)
ORDER BY s.min_score DESC
""",
    "v_roi_projection": r"""
-- Projected ROI of the latest published run under its policy, per category and in total ('All').
-- Contacted = targeted minus control.  expected retained = sum(p x success rate);
-- expected revenue saved = sum(p x success rate x monthly charges x horizon); ROI = net benefit / cost.
WITH latest AS (                               -- the run BI should see
    SELECT run_id FROM churndb.v_published_runs WHERE recency = 1
), per_category AS (                           -- the summary written with the run
    SELECT r.run_id, r.risk_category, r.sort_score, r.targeted, r.contacted, r.targeted - r.contacted AS control,
           r.program_cost, r.expected_retained, r.expected_revenue_saved, r.contacted_revenue_at_risk,
           r.success_rate, r.horizon_months
    FROM churndb.run_roi_summary r JOIN latest USING (run_id)
), with_total AS (                             -- the categories and their sum
    SELECT * FROM per_category
    UNION ALL
    SELECT run_id, 'All', -1, sum(targeted), sum(contacted), sum(control), sum(program_cost), sum(expected_retained),
           sum(expected_revenue_saved), sum(contacted_revenue_at_risk), max(success_rate), max(horizon_months)
    FROM per_category GROUP BY run_id
)
SELECT run_id, risk_category, targeted, contacted, control, program_cost, expected_retained,
       expected_revenue_saved,
       expected_revenue_saved - program_cost                                    AS net_benefit,
       (expected_revenue_saved - program_cost) / nullif(program_cost, 0)        AS roi,
       expected_revenue_saved / horizon_months                                  AS monthly_revenue_saved,
       (expected_revenue_saved - program_cost) / horizon_months                 AS monthly_net_benefit,
       program_cost / nullif(contacted_revenue_at_risk, 0)                      AS break_even_success_rate,
       success_rate, horizon_months
FROM with_total
ORDER BY sort_score DESC
""",
    "v_score_audit": r"""
-- Every score ever written, with the run, its status and the exact model artifact that produced it.
-- Filter by customer_id (indexed).  Shadow and unpublished (failed) runs are shown and labelled.
SELECT h.customer_id, h.scored_at, h.run_id, r.status AS run_status, h.is_shadow, h.model_version,
       m.artifact_sha256, r.policy_version, h.snapshot_date, h.churn_probability, h.risk_score,
       h.risk_category, h.retention_action, h.top_reasons, r.host, r.pid
FROM churndb.score_history h
JOIN churndb.scoring_runs r ON r.run_id = h.run_id
JOIN churndb.model_versions m ON m.model_version = h.model_version
""",
    "v_score_drift": r"""
-- Per published run: score distribution, category shares and their change against the previous
-- published run, and the PSI values the monitor job computed (score and each input feature).
WITH runs AS (                                  -- published runs in time order
    SELECT run_id, finished_at, customers_scored,
           lag(run_id) OVER (ORDER BY finished_at, run_id) AS previous_run_id
    FROM churndb.v_published_runs
), shares AS (                                  -- category share per run
    SELECT s.run_id, s.risk_category, s.customers::float8 / sum(s.customers) OVER (PARTITION BY s.run_id) AS share,
           sum(s.customers * s.avg_score) OVER (PARTITION BY s.run_id)
               / sum(s.customers) OVER (PARTITION BY s.run_id) AS mean_score
    FROM churndb.run_segment_summary s
), psi AS (                                     -- latest PSI per run and subject from the monitor
    SELECT DISTINCT ON (run_id, subject) run_id, subject, value
    FROM churndb.monitoring_metrics
    WHERE metric = 'psi' AND run_id IS NOT NULL
    ORDER BY run_id, subject, computed_at DESC
)
SELECT r.run_id, r.finished_at, r.customers_scored, r.previous_run_id, s.mean_score, s.risk_category, s.share,
       s.share - p.share AS share_change,
       (SELECT value FROM psi WHERE psi.run_id = r.run_id AND subject = 'risk_score') AS score_psi,
       (SELECT jsonb_object_agg(subject, round(value::numeric, 4)) FROM psi
         WHERE psi.run_id = r.run_id AND subject <> 'risk_score') AS feature_psi
FROM runs r
JOIN shares s ON s.run_id = r.run_id
LEFT JOIN shares p ON p.run_id = r.previous_run_id AND p.risk_category = s.risk_category
""",
    "v_model_performance": r"""
-- Per model version and score decile: predicted churn rate vs the rate observed once outcomes
-- matured, with the AUC / accuracy of that evaluation (computed and stored by the monitor job).
SELECT m.computed_at, m.model_version, m.run_id, (m.details ->> 'is_shadow')::boolean AS is_shadow,
       (d ->> 'decile')::int AS decile, (d ->> 'customers')::int AS customers,
       (d ->> 'predicted_rate')::float8 AS predicted_rate, (d ->> 'observed_rate')::float8 AS observed_rate,
       (m.details ->> 'auc')::float8 AS auc, (m.details ->> 'accuracy')::float8 AS accuracy,
       (m.details ->> 'holdout_auc')::float8 AS holdout_auc, (m.details ->> 'rows')::int AS matured_rows
FROM churndb.monitoring_metrics m
CROSS JOIN LATERAL jsonb_array_elements(m.details -> 'deciles') d
WHERE m.metric = 'matured_performance'
""",
    "v_roi_realized": r"""
-- What the program achieved, per campaign and category (and per campaign in total): churn of
-- contacted treatment customers vs the control group, the measured uplift with a 95% interval,
-- and realized revenue saved and ROI.  Below 30 customers in either group it says so instead.
WITH outcomes AS (                              -- one row per customer with a known outcome
    SELECT o.campaign_id, coalesce(o.risk_category, 'unknown') AS risk_category, o.treatment_group,
           o.churned::int AS churned, coalesce(o.monthly_charges, 0) AS monthly_charges,
           coalesce(b.intervention_cost, 0) AS cost, coalesce(p.value_horizon_months, 12) AS horizon
    FROM churndb.intervention_outcomes o
    LEFT JOIN churndb.scoring_runs r ON r.run_id = o.run_id
    LEFT JOIN churndb.segment_policy p ON p.policy_version = r.policy_version
    LEFT JOIN churndb.segment_policy_bands b ON b.policy_version = r.policy_version AND b.risk_category = o.risk_category
    WHERE o.churned IS NOT NULL AND (o.treatment_group = 'control' OR o.contacted_at IS NOT NULL)
), groups AS (                                  -- treatment and control side by side
    SELECT campaign_id, CASE WHEN grouping(risk_category) = 1 THEN 'All' ELSE risk_category END AS risk_category,
           count(*) FILTER (WHERE treatment_group = 'treatment')                         AS treated,
           count(*) FILTER (WHERE treatment_group = 'control')                           AS control,
           avg(churned) FILTER (WHERE treatment_group = 'treatment')::float8             AS treated_churn_rate,
           avg(churned) FILTER (WHERE treatment_group = 'control')::float8               AS control_churn_rate,
           avg(monthly_charges * horizon) FILTER (WHERE treatment_group = 'treatment')::float8 AS value_per_customer,
           sum(cost) FILTER (WHERE treatment_group = 'treatment')::float8                AS program_cost
    FROM outcomes
    GROUP BY GROUPING SETS ((campaign_id, risk_category), (campaign_id))
), measured AS (
    SELECT g.*, control_churn_rate - treated_churn_rate AS uplift,
           1.96 * sqrt(treated_churn_rate * (1 - treated_churn_rate) / nullif(treated, 0)
                     + control_churn_rate * (1 - control_churn_rate) / nullif(control, 0)) AS margin
    FROM groups g
)
SELECT campaign_id, risk_category, treated, control,
       CASE WHEN treated < 30 OR control < 30 THEN 'not enough data' ELSE 'measured' END AS status,
       CASE WHEN treated >= 30 AND control >= 30 THEN treated_churn_rate END AS treated_churn_rate,
       CASE WHEN treated >= 30 AND control >= 30 THEN control_churn_rate END AS control_churn_rate,
       CASE WHEN treated >= 30 AND control >= 30 THEN uplift END AS uplift,
       CASE WHEN treated >= 30 AND control >= 30 THEN uplift - margin END AS uplift_low,
       CASE WHEN treated >= 30 AND control >= 30 THEN uplift + margin END AS uplift_high,
       CASE WHEN treated >= 30 AND control >= 30 THEN uplift * treated * value_per_customer END AS revenue_saved,
       program_cost,
       CASE WHEN treated >= 30 AND control >= 30 AND program_cost > 0
            THEN (uplift * treated * value_per_customer - program_cost) / program_cost END AS roi,
       CASE WHEN treated >= 30 AND control >= 30 AND program_cost > 0
            THEN ((uplift - margin) * treated * value_per_customer - program_cost) / program_cost END AS roi_low,
       CASE WHEN treated >= 30 AND control >= 30 AND program_cost > 0
            THEN ((uplift + margin) * treated * value_per_customer - program_cost) / program_cost END AS roi_high
FROM measured
""",
    "v_crm_priority_targets": r"""
-- What the CRM works from: current Critical and High targets to contact (control excluded), highest risk first.
SELECT customer_id, churn_probability, risk_score, risk_category, retention_action, suggested_offer,
       estimated_intervention_cost, estimated_revenue_at_risk, top_reasons, campaign_id, run_id, scored_at,
       crm_status, crm_owner, crm_notes, crm_updated_at
FROM churndb.retention_targets
WHERE is_current AND treatment_group = 'treatment' AND risk_category IN ('Critical', 'High')
ORDER BY risk_score DESC, churn_probability DESC
""",
}

TABLES = r"""
ALTER TABLE churndb.scoring_runs ADD COLUMN summary jsonb NOT NULL DEFAULT '{}'::jsonb;

-- Per run and category, written when the run is published.
CREATE TABLE churndb.run_segment_summary (
    run_id             bigint  NOT NULL REFERENCES churndb.scoring_runs,
    risk_category      text    NOT NULL,
    min_score          integer NOT NULL,
    customers          bigint  NOT NULL,
    avg_score          double precision NOT NULL,
    revenue_at_risk    numeric(16,2) NOT NULL,
    intervention_cost  numeric(16,2) NOT NULL,
    PRIMARY KEY (run_id, risk_category)
);

CREATE TABLE churndb.run_roi_summary (
    run_id                     bigint  NOT NULL REFERENCES churndb.scoring_runs,
    risk_category              text    NOT NULL,
    sort_score                 integer NOT NULL,
    targeted                   bigint  NOT NULL,
    contacted                  bigint  NOT NULL,
    program_cost               double precision NOT NULL,
    expected_retained          double precision NOT NULL,
    expected_revenue_saved     double precision NOT NULL,
    contacted_revenue_at_risk  double precision NOT NULL,
    success_rate               double precision NOT NULL,
    horizon_months             integer NOT NULL,
    PRIMARY KEY (run_id, risk_category)
);
CREATE INDEX monitoring_metrics_run ON churndb.monitoring_metrics (run_id, metric);

-- A publish takes retention_targets before touching rows (CRM writers wait; no deadlock).  LOCK
-- needs table-wide UPDATE, which the scorer must not have (crm_* columns): a definer function.
CREATE FUNCTION churndb.lock_retention_targets() RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS
$fn$ LOCK TABLE churndb.retention_targets IN SHARE ROW EXCLUSIVE MODE $fn$;
REVOKE EXECUTE ON FUNCTION churndb.lock_retention_targets() FROM PUBLIC;
"""

ROLES = r"""
DO $$
DECLARE r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['churn_crm', 'churn_bi', 'churn_scorer', 'churn_auditor'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$$;
GRANT USAGE ON SCHEMA churndb TO churn_crm, churn_bi, churn_scorer, churn_auditor;

-- CRM: its table and its priority view; may change only its own columns.
GRANT SELECT ON churndb.retention_targets, churndb.v_crm_priority_targets TO churn_crm;
GRANT UPDATE (crm_status, crm_owner, crm_notes, crm_updated_at) ON churndb.retention_targets TO churn_crm;

-- BI: the views, nothing underneath.
GRANT SELECT ON churndb.v_published_runs, churndb.v_current_scores, churndb.v_risk_segments,
    churndb.v_roi_projection, churndb.v_roi_realized, churndb.v_model_performance, churndb.v_score_drift,
    churndb.v_crm_priority_targets TO churn_bi;

-- Scorer: what ingest, train, score and monitor write.  History stays append-only (triggers).
GRANT USAGE ON SCHEMA churndb_import TO churn_scorer;
GRANT SELECT ON ALL TABLES IN SCHEMA churndb TO churn_scorer;
GRANT INSERT ON churndb.ingest_batches, churndb.rejected_rows, churndb.customer_snapshots, churndb.churn_outcomes,
    churndb.model_versions, churndb.model_deployments, churndb.scoring_runs, churndb.score_history,
    churndb.retention_targets, churndb.run_segment_summary, churndb.run_roi_summary, churndb.monitoring_metrics,
    churndb.alerts, churndb.job_runs, churndb.intervention_outcomes TO churn_scorer;
GRANT UPDATE ON churndb.customer_snapshots, churndb.churn_outcomes, churndb.model_versions, churndb.scoring_runs,
    churndb.job_runs, churndb.intervention_outcomes TO churn_scorer;
GRANT UPDATE (churn_probability, risk_score, risk_category, retention_action, suggested_offer,
    estimated_intervention_cost, estimated_revenue_at_risk, expected_net_value, top_reasons, treatment_group,
    campaign_id, policy_version, model_version, run_id, scored_at, is_current, first_targeted_at, dropped_at)
    ON churndb.retention_targets TO churn_scorer;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA churndb TO churn_scorer;
-- Creating next month's partition needs CREATE on the schema, which the scorer does not get:
-- the function runs with its owner's rights and a fixed search_path instead.
ALTER FUNCTION churndb.ensure_score_history_partition(timestamptz) SECURITY DEFINER SET search_path = pg_catalog;
REVOKE EXECUTE ON FUNCTION churndb.ensure_score_history_partition(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION churndb.ensure_score_history_partition(timestamptz) TO churn_scorer;
GRANT EXECUTE ON FUNCTION churndb.lock_retention_targets() TO churn_scorer;

-- Auditor: history, runs, model metadata (not the artifact bytes), policy, deployments.
GRANT SELECT ON churndb.score_history, churndb.scoring_runs, churndb.model_deployments, churndb.segment_policy,
    churndb.segment_policy_bands, churndb.ingest_batches, churndb.rejected_rows, churndb.job_runs,
    churndb.alerts, churndb.monitoring_metrics, churndb.v_score_audit, churndb.v_published_runs TO churn_auditor;
GRANT SELECT (model_version, status, spec, feature_spec, training, metrics, library_versions, artifact_sha256,
    artifact_signature, created_at, created_by, promoted_at, promoted_by) ON churndb.model_versions TO churn_auditor;
"""

REVOKE_ROLES = r"""
DO $$
DECLARE r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['churn_crm', 'churn_bi', 'churn_scorer', 'churn_auditor'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA churndb FROM %I', r);
            EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA churndb FROM %I', r);
            EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA churndb FROM %I', r);
            EXECUTE format('REVOKE ALL ON SCHEMA churndb, churndb_import FROM %I', r);
        END IF;
    END LOOP;
END
$$;
"""


def upgrade() -> None:
    op.execute(TABLES)
    for name, body in VIEWS.items():
        op.execute(f"CREATE VIEW churndb.{name} AS\n{body}")
    op.execute(ROLES)


def downgrade() -> None:
    # Roles are cluster-wide and may hold grants in other databases: revoke here, keep the roles.
    op.execute(REVOKE_ROLES)
    op.execute("ALTER FUNCTION churndb.ensure_score_history_partition(timestamptz) SECURITY INVOKER RESET search_path")
    op.execute("GRANT EXECUTE ON FUNCTION churndb.ensure_score_history_partition(timestamptz) TO PUBLIC")
    for name in reversed(list(VIEWS)):
        op.execute(f"DROP VIEW IF EXISTS churndb.{name}")
    op.execute("DROP TABLE churndb.run_roi_summary, churndb.run_segment_summary")
    op.execute("DROP FUNCTION churndb.lock_retention_targets()")
    op.execute("DROP INDEX churndb.monitoring_metrics_run")
    op.execute("ALTER TABLE churndb.scoring_runs DROP COLUMN summary")
