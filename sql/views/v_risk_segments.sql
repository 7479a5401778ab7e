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
