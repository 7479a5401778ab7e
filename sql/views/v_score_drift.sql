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
