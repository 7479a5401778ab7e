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
