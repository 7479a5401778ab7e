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
