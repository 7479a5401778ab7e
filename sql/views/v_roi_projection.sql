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
