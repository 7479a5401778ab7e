-- Statements run by churndb.training.campaigns: a matured campaign's customers, for an uplift model.

-- {table}: customer_snapshots (the telecom layout) or a source's churndb_source.<name>, an Identifier.

-- name: copy_campaign_customers
-- Every customer of the campaign with a known outcome -- the control group, and treatment customers
-- the CRM contacted (as v_roi_realized counts them) -- with the snapshot the campaign scored them
-- from, the churn probability it gave them, and which group they were in.
COPY (
    SELECT s.*, (o.treatment_group = 'treatment')::int AS uplift_treated, o.churned::int AS uplift_churned,
           h.churn_probability AS uplift_risk, h.model_version AS uplift_scored_by
    FROM churndb.intervention_outcomes o
    JOIN churndb.scoring_runs r ON r.run_id = o.run_id
    JOIN churndb.score_history h ON h.run_id = o.run_id AND h.customer_id = o.customer_id
    JOIN {table} s ON s.customer_id = o.customer_id AND s.as_of_date = h.snapshot_date
    WHERE o.campaign_id = %(campaign)s AND r.source = %(source)s AND o.churned IS NOT NULL
      AND (o.treatment_group = 'control' OR o.contacted_at IS NOT NULL)
    ORDER BY o.customer_id
) TO STDOUT WITH (FORMAT csv, HEADER true);

-- name: model_columns
-- The input columns of the churn model that scored the campaign: the uplift model uses the same ones.
SELECT feature_spec -> 'categorical', feature_spec -> 'numeric' FROM churndb.model_versions
WHERE model_version = %(model_version)s;

-- name: matured_campaigns
-- Campaigns of a source with enough known outcomes in both groups and no uplift model yet.
SELECT o.campaign_id
FROM churndb.intervention_outcomes o
JOIN churndb.scoring_runs r ON r.run_id = o.run_id
WHERE r.source = %(source)s AND o.churned IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM churndb.model_versions m
                  WHERE m.kind = 'uplift' AND m.source = %(source)s AND m.spec ->> 'campaign' = o.campaign_id)
GROUP BY o.campaign_id
HAVING count(*) FILTER (WHERE o.treatment_group = 'treatment' AND o.contacted_at IS NOT NULL) >= %(minimum)s
   AND count(*) FILTER (WHERE o.treatment_group = 'control') >= %(minimum)s
ORDER BY max(o.recorded_at);
