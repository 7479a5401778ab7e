-- Statements run by churndb.ops.monitor: Monitoring: published runs, matured outcomes, metrics and alerts.

-- name: recent_published_runs
-- The latest published runs of a source, newest first, with what drift checks need.
SELECT r.run_id, r.model_version, r.summary, r.finished_at, r.as_of_date, m.feature_spec -> 'baseline' AS baseline
FROM churndb.v_published_runs p
JOIN churndb.scoring_runs r ON r.run_id = p.run_id
JOIN churndb.model_versions m ON m.model_version = r.model_version
WHERE p.recency <= 2 AND p.source = %(source)s
ORDER BY p.recency;

-- name: run_shares
SELECT risk_category, customers::float8 / sum(customers) OVER () AS share,
       sum(customers * avg_score) OVER () / sum(customers) OVER () AS mean_score
FROM churndb.run_segment_summary WHERE run_id = %(run_id)s;

-- name: projected_roi
SELECT run_id, roi, program_cost, expected_revenue_saved, value_note FROM churndb.v_roi_projection
WHERE risk_category = 'All' AND source = %(source)s;

-- name: feed_coverage
-- %(feed)s: 'feed' for the telecom layout, 'feed:<source>' for a registered source.
SELECT max(observed_as_of) FROM churndb.churn_outcomes WHERE source = %(feed)s;

-- name: matured_run
-- The most recent run (published or shadow) whose prediction window the outcome feed fully covers.
SELECT r.run_id, r.model_version, r.is_shadow, r.as_of_date
FROM churndb.scoring_runs r
WHERE r.status = 'succeeded' AND r.source = %(source)s
  AND r.as_of_date + %(horizon_days)s::int <= %(covered_until)s::date
ORDER BY r.finished_at DESC
LIMIT %(limit)s;

-- name: matured_scores
-- A run's scores with what happened in (snapshot, snapshot + horizon]: churned = 1 when the feed
-- has a churn date in that window.
SELECT h.churn_probability,
       EXISTS (SELECT 1 FROM churndb.churn_outcomes o
               WHERE o.customer_id = h.customer_id AND o.churned AND o.source = %(feed)s
                 AND o.churned_on > h.snapshot_date
                 AND o.churned_on <= h.snapshot_date + %(horizon_days)s::int)::int AS churned
FROM churndb.score_history h
WHERE h.run_id = %(run_id)s;

-- name: model_holdout
SELECT (metrics ->> 'auc')::float8, (metrics ->> 'accuracy')::float8, (spec ->> 'threshold')::float8,
       (spec ->> 'horizon_days')::int
FROM churndb.model_versions WHERE model_version = %(model_version)s;

-- name: insert_metric
INSERT INTO churndb.monitoring_metrics (run_id, model_version, metric, subject, value, details)
VALUES (%(run_id)s, %(model_version)s, %(metric)s, %(subject)s, %(value)s, %(details)s);

-- name: insert_alert
INSERT INTO churndb.alerts (rule, severity, message, run_id, model_version, details)
VALUES (%(rule)s, %(severity)s, %(message)s, %(run_id)s, %(model_version)s, %(details)s)
RETURNING alert_id;
