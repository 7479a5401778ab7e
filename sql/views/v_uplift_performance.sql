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
