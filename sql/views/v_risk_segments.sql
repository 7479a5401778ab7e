-- Per risk category of the latest published run: customers, share, average score,
-- revenue at risk and intervention cost (from the run's summary, written when it was published).
SELECT s.run_id, s.risk_category, s.customers,
       s.customers::float8 / sum(s.customers) OVER () AS share,
       s.avg_score, s.revenue_at_risk, s.intervention_cost
FROM churndb.run_segment_summary s
WHERE s.run_id = (SELECT run_id FROM churndb.v_published_runs WHERE recency = 1)
ORDER BY s.min_score DESC
