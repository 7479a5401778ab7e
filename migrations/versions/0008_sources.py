"""Sources: any operator's customer layout, end to end.

* ``churndb.sources``: one row per registered layout (key, label, value, as-of columns, excluded
  columns, every column's header / stored name / type / role, layout version).  The built-in telecom
  layout is the source ``telecom`` (its columns live in code: ``customer_snapshots``).
* ``churndb.source_keys``: the operator's key as written (text) -> churndb's customer_id.  Sources'
  ids are negative (drawn from a sequence), the telecom layout's own ids are positive, so every
  large table keeps one bigint ``customer_id`` key (shardable) and sources never collide.
* ``churndb_source.<name>``: each source's point-in-time snapshots (customer_id, as_of_date, ...).
* ``score_history`` / ``retention_targets`` (and a Dask run's ``score_staging``) carry ``customer_key``,
  the first two also ``source`` (the key as the
  operator wrote it); money columns may be NULL (a source without a value column).
* ``model_versions.source`` (derived from the immutable spec) and one champion *per source*.
* ``v_published_runs`` ranks runs per source; the current-score, CRM, segment and ROI views carry
  the source (and say "no value column configured" instead of inventing money).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UP = r"""
CREATE SCHEMA churndb_source;
COMMENT ON SCHEMA churndb_source IS 'churndb: point-in-time snapshots of each registered source';

CREATE TABLE churndb.sources (
    source          text PRIMARY KEY CHECK (source ~ '^[a-z_][a-z0-9_]{0,62}$'),
    key_column      text,                     -- stored name; NULL when rows are keyed by line (row_ids)
    key_header      text,                     -- the key column as the operator wrote it
    key_type        text NOT NULL CHECK (key_type IN ('text', 'bigint', 'row_id')),
    label_column    text,
    value_column    text,
    as_of_column    text,
    excluded        text[] NOT NULL DEFAULT '{}',
    columns         jsonb NOT NULL DEFAULT '[]'::jsonb,   -- [{header, column, type, role}], in file order
    row_ids         boolean NOT NULL DEFAULT false,
    builtin         boolean NOT NULL DEFAULT false,
    layout_version  integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      text NOT NULL DEFAULT current_user
);
INSERT INTO churndb.sources (source, key_column, key_header, key_type, label_column, value_column, builtin)
VALUES ('telecom', 'customer_id', 'customer_id', 'bigint', 'is_churn', 'monthly_charges', true);

-- Every recorded change of a source's layout (an explicit --accept-layout-change).
CREATE TABLE churndb.source_layout_changes (
    source          text NOT NULL REFERENCES churndb.sources,
    layout_version  integer NOT NULL,
    changed_at      timestamptz NOT NULL DEFAULT now(),
    changed_by      text NOT NULL DEFAULT current_user,
    previous        jsonb NOT NULL,
    current         jsonb NOT NULL,
    PRIMARY KEY (source, layout_version)
);

CREATE SEQUENCE churndb.source_customer_ids;
CREATE TABLE churndb.source_keys (
    source        text   NOT NULL REFERENCES churndb.sources,
    customer_key  text   NOT NULL,
    customer_id   bigint NOT NULL DEFAULT -nextval('churndb.source_customer_ids') UNIQUE CHECK (customer_id < 0),
    PRIMARY KEY (source, customer_key)
);

-- Outcome feeds of a source carry its (negative) ids.
ALTER TABLE churndb.churn_outcomes DROP CONSTRAINT churn_outcomes_customer_id_check;
ALTER TABLE churndb.churn_outcomes ADD CONSTRAINT churn_outcomes_customer_id_check CHECK (customer_id <> 0);

ALTER TABLE churndb.score_history ADD COLUMN source text NOT NULL DEFAULT 'telecom';
ALTER TABLE churndb.score_history ADD COLUMN customer_key text;
ALTER TABLE churndb.score_history ALTER COLUMN estimated_revenue_at_risk DROP NOT NULL;
ALTER TABLE churndb.score_staging ADD COLUMN customer_key text;
ALTER TABLE churndb.score_staging ALTER COLUMN estimated_revenue_at_risk DROP NOT NULL;
ALTER TABLE churndb.retention_targets ADD COLUMN source text NOT NULL DEFAULT 'telecom';
ALTER TABLE churndb.retention_targets ADD COLUMN customer_key text;
UPDATE churndb.retention_targets SET customer_key = customer_id::text;
ALTER TABLE churndb.retention_targets ALTER COLUMN customer_key SET NOT NULL;
ALTER TABLE churndb.retention_targets ALTER COLUMN estimated_revenue_at_risk DROP NOT NULL;
CREATE INDEX retention_targets_source ON churndb.retention_targets (source, risk_score DESC) WHERE is_current;
ALTER TABLE churndb.run_segment_summary ALTER COLUMN revenue_at_risk DROP NOT NULL;
ALTER TABLE churndb.run_roi_summary ALTER COLUMN expected_revenue_saved DROP NOT NULL;
ALTER TABLE churndb.run_roi_summary ALTER COLUMN contacted_revenue_at_risk DROP NOT NULL;
UPDATE churndb.scoring_runs SET source = 'telecom' WHERE source = 'customer_snapshots';
ALTER TABLE churndb.scoring_runs ALTER COLUMN source SET DEFAULT 'telecom';

-- A model belongs to the source it was trained on (from its spec, which can never change).
ALTER TABLE churndb.model_versions ADD COLUMN source text GENERATED ALWAYS AS (
    CASE WHEN coalesce(spec ->> 'source', 'customer_snapshots') IN ('customer_snapshots', 'churndb.customer_snapshots')
         THEN 'telecom' ELSE spec ->> 'source' END) STORED;
DROP INDEX churndb.model_versions_one_champion;
CREATE UNIQUE INDEX model_versions_one_champion ON churndb.model_versions (source) WHERE status = 'champion';

GRANT USAGE, CREATE ON SCHEMA churndb_source TO churn_scorer;
GRANT SELECT, INSERT, UPDATE ON churndb.sources TO churn_scorer;
GRANT SELECT, INSERT ON churndb.source_layout_changes, churndb.source_keys TO churn_scorer;
GRANT USAGE ON SEQUENCE churndb.source_customer_ids TO churn_scorer;
GRANT SELECT ON churndb.sources, churndb.source_layout_changes TO churn_auditor, churn_bi;
GRANT SELECT ON churndb.source_keys TO churn_auditor;
GRANT SELECT (source, customer_key) ON churndb.retention_targets TO churn_crm;
GRANT UPDATE (customer_key) ON churndb.retention_targets TO churn_scorer;
"""

DOWN = r"""
DROP INDEX churndb.model_versions_one_champion;
ALTER TABLE churndb.model_versions DROP COLUMN source;
CREATE UNIQUE INDEX model_versions_one_champion ON churndb.model_versions ((true)) WHERE status = 'champion';
ALTER TABLE churndb.scoring_runs ALTER COLUMN source SET DEFAULT 'customer_snapshots';
UPDATE churndb.scoring_runs SET source = 'customer_snapshots' WHERE source = 'telecom';
ALTER TABLE churndb.run_roi_summary ALTER COLUMN contacted_revenue_at_risk SET NOT NULL;
ALTER TABLE churndb.run_roi_summary ALTER COLUMN expected_revenue_saved SET NOT NULL;
ALTER TABLE churndb.run_segment_summary ALTER COLUMN revenue_at_risk SET NOT NULL;
DROP INDEX churndb.retention_targets_source;
ALTER TABLE churndb.retention_targets ALTER COLUMN estimated_revenue_at_risk SET NOT NULL;
ALTER TABLE churndb.retention_targets DROP COLUMN customer_key, DROP COLUMN source;
ALTER TABLE churndb.score_history ALTER COLUMN estimated_revenue_at_risk SET NOT NULL;
ALTER TABLE churndb.score_staging ALTER COLUMN estimated_revenue_at_risk SET NOT NULL;
ALTER TABLE churndb.score_staging DROP COLUMN customer_key;
ALTER TABLE churndb.score_history DROP COLUMN customer_key, DROP COLUMN source;
ALTER TABLE churndb.churn_outcomes DROP CONSTRAINT churn_outcomes_customer_id_check;
ALTER TABLE churndb.churn_outcomes ADD CONSTRAINT churn_outcomes_customer_id_check CHECK (customer_id > 0);
DROP TABLE churndb.source_keys, churndb.source_layout_changes, churndb.sources;
DROP SEQUENCE churndb.source_customer_ids;
DROP SCHEMA churndb_source CASCADE;
"""

# Before the tables go, the views lose what this revision gave them (a view's columns can only be
# dropped with the view; these keep the column list and read nothing that is about to go).
DOWN_VIEWS = {
    "v_current_scores": """
SELECT h.customer_id, h.churn_probability, h.risk_score, h.risk_category, h.retention_action,
       h.estimated_intervention_cost, h.estimated_revenue_at_risk, h.top_reasons, h.model_version, h.run_id,
       h.scored_at, h.snapshot_date, 'telecom'::text AS source, h.customer_id::text AS customer_key
FROM churndb.score_history h
WHERE h.run_id IN (SELECT run_id FROM churndb.v_published_runs WHERE recency = 1)
""",
    "v_crm_priority_targets": """
SELECT customer_id, churn_probability, risk_score, risk_category, retention_action, suggested_offer,
       estimated_intervention_cost, estimated_revenue_at_risk, top_reasons, campaign_id, run_id, scored_at,
       crm_status, crm_owner, crm_notes, crm_updated_at, 'telecom'::text AS source, customer_id::text AS customer_key
FROM churndb.retention_targets
WHERE is_current AND treatment_group = 'treatment' AND risk_category IN ('Critical', 'High')
ORDER BY risk_score DESC, churn_probability DESC
""",
}


# Frozen copies of sql/views/<name>.sql as installed by this revision (columns appended at the end,
# so CREATE OR REPLACE keeps every dependent view).
VIEWS = {
    "v_published_runs": r"""
-- Scoring runs readers may see: succeeded, not shadow; recency = 1 is the latest of its source.
SELECT r.run_id, r.model_version, r.policy_version, r.as_of_date, r.campaign_id, r.started_at, r.finished_at,
       r.customers_scored, r.targets, r.stage_seconds,
       row_number() OVER (PARTITION BY r.source ORDER BY r.finished_at DESC, r.run_id DESC) AS recency,
       r.source
FROM churndb.scoring_runs r
WHERE r.status = 'succeeded' AND NOT r.is_shadow
""",
    "v_current_scores": r"""
-- Each customer's latest published score: the rows of the latest published run of each source
-- (every run scores every current customer of its source).  customer_key: the key as the operator wrote it.
SELECT h.customer_id, h.churn_probability, h.risk_score, h.risk_category, h.retention_action,
       h.estimated_intervention_cost, h.estimated_revenue_at_risk, h.top_reasons, h.model_version, h.run_id,
       h.scored_at, h.snapshot_date, h.source, coalesce(h.customer_key, h.customer_id::text) AS customer_key
FROM churndb.score_history h
WHERE h.run_id IN (SELECT run_id FROM churndb.v_published_runs WHERE recency = 1)
""",
    "v_crm_priority_targets": r"""
-- What the CRM works from: current Critical and High targets to contact (control excluded), highest risk first.
SELECT customer_id, churn_probability, risk_score, risk_category, retention_action, suggested_offer,
       estimated_intervention_cost, estimated_revenue_at_risk, top_reasons, campaign_id, run_id, scored_at,
       crm_status, crm_owner, crm_notes, crm_updated_at, source, customer_key
FROM churndb.retention_targets
WHERE is_current AND treatment_group = 'treatment' AND risk_category IN ('Critical', 'High')
ORDER BY risk_score DESC, churn_probability DESC
""",
    "v_risk_segments": r"""
-- Per risk category of the latest published run of each source: customers, share, average score,
-- revenue at risk and intervention cost (from the run's summary, written when it was published).
-- A source without a value column has no revenue figures: NULL, and value_note says why.
SELECT s.run_id, s.risk_category, s.customers,
       s.customers::float8 / sum(s.customers) OVER (PARTITION BY s.run_id) AS share,
       s.avg_score, s.revenue_at_risk, s.intervention_cost, p.source,
       CASE WHEN src.value_column IS NULL THEN 'no value column configured' END AS value_note
FROM churndb.run_segment_summary s
JOIN churndb.v_published_runs p ON p.run_id = s.run_id AND p.recency = 1
LEFT JOIN churndb.sources src ON src.source = p.source
ORDER BY p.source, s.min_score DESC
""",
    "v_roi_projection": r"""
-- Projected ROI of the latest published run of each source under its policy, per category and in
-- total ('All').  Contacted = targeted minus control.  expected retained = sum(p x success rate);
-- expected revenue saved = sum(p x success rate x value x horizon); ROI = net benefit / cost.
-- A source without a value column has no revenue figures: NULL, and value_note says why.
WITH latest AS (                               -- the run BI should see, per source
    SELECT run_id, source FROM churndb.v_published_runs WHERE recency = 1
), per_category AS (                           -- the summary written with the run
    SELECT r.run_id, r.risk_category, r.sort_score, r.targeted, r.contacted, r.targeted - r.contacted AS control,
           r.program_cost, r.expected_retained, r.expected_revenue_saved, r.contacted_revenue_at_risk,
           r.success_rate, r.horizon_months, latest.source
    FROM churndb.run_roi_summary r JOIN latest USING (run_id)
), with_total AS (                             -- the categories and their sum
    SELECT * FROM per_category
    UNION ALL
    SELECT run_id, 'All', -1, sum(targeted), sum(contacted), sum(control), sum(program_cost), sum(expected_retained),
           sum(expected_revenue_saved), sum(contacted_revenue_at_risk), max(success_rate), max(horizon_months),
           source
    FROM per_category GROUP BY run_id, source
)
SELECT t.run_id, t.risk_category, t.targeted, t.contacted, t.control, t.program_cost, t.expected_retained,
       t.expected_revenue_saved,
       t.expected_revenue_saved - t.program_cost                                 AS net_benefit,
       (t.expected_revenue_saved - t.program_cost) / nullif(t.program_cost, 0)   AS roi,
       t.expected_revenue_saved / t.horizon_months                               AS monthly_revenue_saved,
       (t.expected_revenue_saved - t.program_cost) / t.horizon_months            AS monthly_net_benefit,
       t.program_cost / nullif(t.contacted_revenue_at_risk, 0)                   AS break_even_success_rate,
       t.success_rate, t.horizon_months, t.source,
       CASE WHEN src.value_column IS NULL THEN 'no value column configured' END AS value_note
FROM with_total t
LEFT JOIN churndb.sources src ON src.source = t.source
ORDER BY t.source, t.sort_score DESC
""",
}


def upgrade() -> None:
    op.execute(UP)
    for name, body in VIEWS.items():
        op.execute(f"CREATE OR REPLACE VIEW churndb.{name} AS {body}")


def downgrade() -> None:
    for name, body in DOWN_VIEWS.items():
        op.execute(f"CREATE OR REPLACE VIEW churndb.{name} AS {body}")
    for name in ("v_risk_segments", "v_roi_projection"):  # value_note read churndb.sources
        body = VIEWS[name].replace("LEFT JOIN churndb.sources src ON src.source = p.source", "") \
                          .replace("LEFT JOIN churndb.sources src ON src.source = t.source", "") \
                          .replace("CASE WHEN src.value_column IS NULL THEN 'no value column configured' END",
                                   "NULL::text")
        op.execute(f"CREATE OR REPLACE VIEW churndb.{name} AS {body}")
    op.execute(DOWN)
