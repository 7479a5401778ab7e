-- Statements run by churndb.ops.charts: The HTML report's charts.

-- name: score_histogram
-- Customers per risk score (0..100) of the reported run, with the category the policy gave it.
SELECT risk_score, risk_category, count(*) FROM churndb.v_current_scores WHERE run_id = %(run_id)s
GROUP BY risk_score, risk_category ORDER BY risk_score;

-- name: drift_over_runs
-- Mean score, score PSI and the largest input-column PSI per published run, oldest first.
SELECT run_id, finished_at, max(mean_score) AS mean_score, max(score_psi) AS score_psi,
       (SELECT max(value::float8) FROM jsonb_each_text(max(feature_psi::text)::jsonb)) AS max_feature_psi
FROM churndb.v_score_drift
WHERE run_id IN (SELECT run_id FROM churndb.scoring_runs WHERE source = %(source)s)
GROUP BY run_id, finished_at
ORDER BY finished_at
LIMIT 60;

-- name: recent_models
-- The latest model versions with their hold-out metrics (champion / challenger comparison).
SELECT model_version, status, (metrics ->> 'auc')::float8, (metrics ->> 'brier')::float8,
       (metrics ->> 'ece')::float8, (metrics ->> 'top_decile_lift')::float8
FROM churndb.model_versions
WHERE source = %(source)s AND kind = 'churn'
ORDER BY model_version DESC
LIMIT 6;

-- name: model_curves
SELECT metrics -> 'deciles', metrics -> 'curves' FROM churndb.model_versions WHERE model_version = %(model_version)s;

-- name: uplift_curves
-- The newest uplift model of the source: its hold-out Qini curve and risk ranking's on the same rows.
SELECT model_version, spec ->> 'campaign', metrics -> 'uplift_model' -> 'curve', metrics -> 'risk_ranking' -> 'curve',
       (metrics ->> 'qini')::float8, (metrics ->> 'qini_risk_ranking')::float8,
       (metrics ->> 'used_for_targeting')::boolean
FROM churndb.model_versions
WHERE source = %(source)s AND kind = 'uplift'
ORDER BY model_version DESC
LIMIT 1;
