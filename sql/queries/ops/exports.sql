-- Statements run by churndb.ops.exports: CRM exports of a published run.

-- name: latest_published_run
SELECT r.run_id, r.model_version, r.policy_version, r.as_of_date, r.started_at, r.finished_at,
       r.customers_scored, r.targets, r.campaign_id
FROM churndb.scoring_runs r
WHERE r.status = 'succeeded' AND NOT r.is_shadow AND r.source = %(source)s
ORDER BY r.finished_at DESC, r.run_id DESC
LIMIT 1;

-- name: export_run
-- Every customer of a run with the attributes it was scored on, highest risk first: the key and
-- columns under the layout's own names ({key}, {columns}: s.<stored> AS "<header>", identifiers;
-- {table}: customer_snapshots or the source's snapshot table), then the scores.
COPY (
    SELECT coalesce(h.customer_key, h.customer_id::text) AS {key}, {columns},
           h.churn_probability, h.risk_score, h.risk_category, h.retention_action,
           h.estimated_intervention_cost, h.estimated_revenue_at_risk,
           t.treatment_group, t.suggested_offer,
           (SELECT string_agg(r ->> 'feature', '; ') FROM jsonb_array_elements(h.top_reasons) r) AS top_reasons,
           h.model_version, h.run_id
    FROM churndb.score_history h
    JOIN {table} s ON s.customer_id = h.customer_id AND s.as_of_date = h.snapshot_date
    LEFT JOIN churndb.retention_targets t ON t.customer_id = h.customer_id AND t.run_id = h.run_id
    WHERE h.run_id = %(run_id)s AND (%(segment)s = 'all' OR lower(h.risk_category) = %(segment)s)
    ORDER BY h.risk_score DESC, h.churn_probability DESC, h.customer_id
) TO STDOUT WITH (FORMAT csv, HEADER true);

-- name: run_categories
-- The segments of a run's policy, highest risk first (export file names and --segment values).
SELECT lower(risk_category) FROM churndb.segment_policy_bands
WHERE policy_version = %(policy_version)s
ORDER BY min_score DESC;
