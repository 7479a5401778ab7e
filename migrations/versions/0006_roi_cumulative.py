"""v_roi_cumulative: the guide's cumulative ROI table, from the same formula as v_roi_projection.

Month m of the projection is m times the program's monthly figures (revenue saved / horizon, cost /
horizon, ...), so the cumulative ROI is the projection's ROI at every month; BI and the report read
months 1..24, labelled as a projection under the policy's assumptions.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Frozen copy of sql/views/v_roi_cumulative.sql as installed by this revision.
V_ROI_CUMULATIVE = r"""
-- Cumulative projection of the latest published run's program, month by month (1..24): the guide's
-- "6-month cumulative" table.  One formula with v_roi_projection: month m is m times its monthly
-- figures (a program repeated each month under a constant policy).  A projection under the policy's
-- assumptions (success rate, horizon), not an observation: v_roi_realized has what happened.
WITH program AS (                              -- the 'All' row of the projection
    SELECT run_id, contacted, program_cost, expected_retained, expected_revenue_saved, success_rate,
           horizon_months
    FROM churndb.v_roi_projection WHERE risk_category = 'All'
), months AS (
    SELECT generate_series(1, 24) AS month
)
SELECT p.run_id, m.month,
       m.month * p.expected_retained / p.horizon_months                              AS retained,
       m.month * p.expected_revenue_saved / p.horizon_months                         AS revenue_saved,
       m.month * p.program_cost / p.horizon_months                                   AS program_cost,
       m.month * (p.expected_revenue_saved - p.program_cost) / p.horizon_months      AS net_benefit,
       (p.expected_revenue_saved - p.program_cost) / nullif(p.program_cost, 0)       AS cumulative_roi,
       p.success_rate, p.horizon_months, 'projection'::text                          AS basis
FROM program p CROSS JOIN months m
ORDER BY m.month
"""


def upgrade() -> None:
    op.execute("CREATE VIEW churndb.v_roi_cumulative AS " + V_ROI_CUMULATIVE)
    op.execute("GRANT SELECT ON churndb.v_roi_cumulative TO churn_bi")


def downgrade() -> None:
    op.execute("DROP VIEW churndb.v_roi_cumulative")
