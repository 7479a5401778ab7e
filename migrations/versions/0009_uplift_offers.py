"""Uplift targeting and offer experiments.

* ``segment_policy.targeting``: 'risk' (rank by churn risk, as before) or 'uplift' (rank by what a
  contact buys: expected uplift x customer value - cost, with the source's uplift model in use).
* ``segment_policy_arms``: a segment's offers under test, with shares (and optionally their own cost).
  A contacted customer's arm is a stable hash of (campaign, customer); the control group gets none.
* ``model_versions.kind`` ('churn' | 'uplift', from the immutable spec): one champion per source *and
  kind*, so an uplift model never replaces a churn model.
* ``retention_targets`` / ``score_history`` / ``score_staging`` carry ``offer_arm`` and
  ``expected_uplift`` (targets also the uplift model that gave it); ``intervention_outcomes`` keeps
  the arm a customer had in the campaign.
* Views ``v_offer_experiments`` and ``v_uplift_performance``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UP = r"""
ALTER TABLE churndb.segment_policy ADD COLUMN targeting text NOT NULL DEFAULT 'risk'
    CHECK (targeting IN ('risk', 'uplift'));
CREATE TABLE churndb.segment_policy_arms (
    policy_version     integer NOT NULL,
    risk_category      text    NOT NULL,
    arm                text    NOT NULL CHECK (arm ~ '\S'),
    offer              text    NOT NULL,
    share              numeric(5,4) NOT NULL CHECK (share > 0 AND share <= 1),
    intervention_cost  numeric(12,2) CHECK (intervention_cost >= 0),   -- NULL: the band's cost
    PRIMARY KEY (policy_version, risk_category, arm),
    FOREIGN KEY (policy_version, risk_category) REFERENCES churndb.segment_policy_bands ON DELETE CASCADE
);

ALTER TABLE churndb.model_versions ADD COLUMN kind text GENERATED ALWAYS AS (
    CASE WHEN spec ->> 'kind' = 'uplift' THEN 'uplift' ELSE 'churn' END) STORED;
DROP INDEX churndb.model_versions_one_champion;
CREATE UNIQUE INDEX model_versions_one_champion ON churndb.model_versions (source, kind) WHERE status = 'champion';

ALTER TABLE churndb.retention_targets ADD COLUMN offer_arm text, ADD COLUMN expected_uplift double precision,
    ADD COLUMN uplift_model_version integer REFERENCES churndb.model_versions;
ALTER TABLE churndb.score_history ADD COLUMN offer_arm text, ADD COLUMN expected_uplift double precision;
ALTER TABLE churndb.score_staging ADD COLUMN offer_arm text, ADD COLUMN expected_uplift double precision;
ALTER TABLE churndb.intervention_outcomes ADD COLUMN offer_arm text;

GRANT SELECT ON churndb.segment_policy_arms TO churn_scorer, churn_auditor;
GRANT UPDATE (offer_arm, expected_uplift, uplift_model_version) ON churndb.retention_targets TO churn_scorer;
"""

DOWN = r"""
REVOKE UPDATE (offer_arm, expected_uplift, uplift_model_version) ON churndb.retention_targets FROM churn_scorer;
ALTER TABLE churndb.intervention_outcomes DROP COLUMN offer_arm;
ALTER TABLE churndb.score_staging DROP COLUMN offer_arm, DROP COLUMN expected_uplift;
ALTER TABLE churndb.score_history DROP COLUMN offer_arm, DROP COLUMN expected_uplift;
ALTER TABLE churndb.retention_targets DROP COLUMN offer_arm, DROP COLUMN expected_uplift,
    DROP COLUMN uplift_model_version;
DELETE FROM churndb.model_deployments d USING churndb.model_versions m
    WHERE m.model_version = d.to_version AND m.kind = 'uplift';
DELETE FROM churndb.model_versions WHERE kind = 'uplift';
DROP INDEX churndb.model_versions_one_champion;
ALTER TABLE churndb.model_versions DROP COLUMN kind;
CREATE UNIQUE INDEX model_versions_one_champion ON churndb.model_versions (source) WHERE status = 'champion';
DROP TABLE churndb.segment_policy_arms;
ALTER TABLE churndb.segment_policy DROP COLUMN targeting;
"""

# Frozen copies of sql/views/<name>.sql as installed by this revision.
VIEWS = {
    "v_offer_experiments": r"""
-- Offer experiments: per campaign, segment and offer arm, the contacted customers with a known
-- outcome against the segment's control group -- churn rate, uplift with a 95% interval, cost per
-- saved customer -- and, per segment, the better arm only when the interval of its difference to
-- every other arm excludes zero (an arm another beats so is 'worse').  Below 30 customers in an arm or the control group: "not enough data".
WITH outcomes AS (                              -- one row per customer with a known outcome
    SELECT o.campaign_id, coalesce(o.risk_category, 'unknown') AS risk_category, o.treatment_group, o.offer_arm,
           o.churned::int AS churned, coalesce(a.intervention_cost, b.intervention_cost) AS cost
    FROM churndb.intervention_outcomes o
    LEFT JOIN churndb.scoring_runs r ON r.run_id = o.run_id
    LEFT JOIN churndb.segment_policy_bands b ON b.policy_version = r.policy_version AND b.risk_category = o.risk_category
    LEFT JOIN churndb.segment_policy_arms a ON a.policy_version = r.policy_version
                                          AND a.risk_category = o.risk_category AND a.arm = o.offer_arm
    WHERE o.churned IS NOT NULL
      AND (o.treatment_group = 'control' OR (o.contacted_at IS NOT NULL AND o.offer_arm IS NOT NULL))
), controls AS (
    SELECT campaign_id, risk_category, count(*) AS control, avg(churned)::float8 AS control_churn_rate
    FROM outcomes WHERE treatment_group = 'control'
    GROUP BY campaign_id, risk_category
), arms AS (
    SELECT campaign_id, risk_category, offer_arm AS arm, count(*) AS contacted, sum(churned) AS churned,
           avg(churned)::float8 AS churn_rate, sum(cost)::float8 AS program_cost
    FROM outcomes WHERE treatment_group = 'treatment'
    GROUP BY campaign_id, risk_category, offer_arm
), measured AS (
    SELECT a.*, coalesce(c.control, 0) AS control, c.control_churn_rate,
           a.contacted >= 30 AND coalesce(c.control, 0) >= 30 AS enough,
           c.control_churn_rate - a.churn_rate AS uplift,
           1.96 * sqrt(a.churn_rate * (1 - a.churn_rate) / a.contacted
                     + c.control_churn_rate * (1 - c.control_churn_rate) / nullif(c.control, 0)) AS margin
    FROM arms a LEFT JOIN controls c USING (campaign_id, risk_category)
), beats AS (                                   -- an arm beats another when its churn is lower beyond doubt
    SELECT x.campaign_id, x.risk_category, x.arm,
           count(*) AS others,
           count(*) FILTER (WHERE x.enough AND y.enough AND
               y.churn_rate - x.churn_rate - 1.96 * sqrt(x.churn_rate * (1 - x.churn_rate) / x.contacted
                                                        + y.churn_rate * (1 - y.churn_rate) / y.contacted) > 0) AS beaten,
           count(*) FILTER (WHERE x.enough AND y.enough AND
               x.churn_rate - y.churn_rate - 1.96 * sqrt(x.churn_rate * (1 - x.churn_rate) / x.contacted
                                                        + y.churn_rate * (1 - y.churn_rate) / y.contacted) > 0) AS beaten_by
    FROM measured x JOIN measured y
      ON y.campaign_id = x.campaign_id AND y.risk_category = x.risk_category AND y.arm <> x.arm
    GROUP BY x.campaign_id, x.risk_category, x.arm
)
SELECT m.campaign_id, m.risk_category, m.arm, m.contacted, m.control,
       CASE WHEN m.enough THEN 'measured' ELSE 'not enough data' END AS status,
       CASE WHEN m.enough THEN m.churned END AS churned,
       CASE WHEN m.enough THEN m.churn_rate END AS churn_rate,
       CASE WHEN m.enough THEN m.control_churn_rate END AS control_churn_rate,
       CASE WHEN m.enough THEN m.uplift END AS uplift,
       CASE WHEN m.enough THEN m.uplift - m.margin END AS uplift_low,
       CASE WHEN m.enough THEN m.uplift + m.margin END AS uplift_high,
       m.program_cost,
       CASE WHEN m.enough AND m.uplift > 0 THEN m.program_cost / (m.uplift * m.contacted) END AS cost_per_saved,
       CASE WHEN NOT m.enough THEN 'not enough data'
            WHEN coalesce(b.others, 0) = 0 THEN 'only arm'
            WHEN b.beaten = b.others THEN 'better'
            WHEN b.beaten_by > 0 THEN 'worse'
            ELSE 'no clear difference' END AS verdict,
       (SELECT w.arm FROM beats w WHERE w.campaign_id = m.campaign_id AND w.risk_category = m.risk_category
          AND w.others > 0 AND w.beaten = w.others) AS best_arm
FROM measured m
LEFT JOIN beats b USING (campaign_id, risk_category, arm)
ORDER BY m.campaign_id, m.risk_category, m.arm
""",
    "v_uplift_performance": r"""
-- Per uplift model: the campaign it learned from, its hold-out Qini against ranking the same
-- customers by churn risk (with the bootstrap 95% interval of the difference), uplift at the top
-- 10/20/30% for both, and whether it is used for targeting (it must beat risk ranking to be).
SELECT m.model_version, m.source, m.spec ->> 'campaign' AS campaign_id, m.status,
       (m.metrics ->> 'used_for_targeting')::boolean AS used_for_targeting,
       (m.metrics ->> 'qini')::float8 AS qini,
       (m.metrics ->> 'qini_risk_ranking')::float8 AS qini_risk_ranking,
       (m.metrics ->> 'difference_low')::float8 AS difference_low,
       (m.metrics ->> 'difference_high')::float8 AS difference_high,
       (m.metrics -> 'uplift_model' ->> 'uplift_at_10')::float8 AS uplift_at_10,
       (m.metrics -> 'risk_ranking' ->> 'uplift_at_10')::float8 AS risk_uplift_at_10,
       (m.metrics -> 'uplift_model' ->> 'uplift_at_20')::float8 AS uplift_at_20,
       (m.metrics -> 'risk_ranking' ->> 'uplift_at_20')::float8 AS risk_uplift_at_20,
       (m.metrics -> 'uplift_model' ->> 'uplift_at_30')::float8 AS uplift_at_30,
       (m.metrics -> 'risk_ranking' ->> 'uplift_at_30')::float8 AS risk_uplift_at_30,
       (m.training ->> 'holdout_treated')::int AS holdout_treated,
       (m.training ->> 'holdout_control')::int AS holdout_control,
       m.created_at
FROM churndb.model_versions m
WHERE m.kind = 'uplift'
ORDER BY m.model_version
""",
}


def upgrade() -> None:
    op.execute(UP)
    for name, body in VIEWS.items():
        op.execute(f"CREATE VIEW churndb.{name} AS {body}")
        op.execute(f"GRANT SELECT ON churndb.{name} TO churn_bi, churn_auditor")


def downgrade() -> None:
    for name in VIEWS:
        op.execute(f"DROP VIEW churndb.{name}")
    op.execute(DOWN)
