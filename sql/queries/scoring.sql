-- Statements used by churndb.scoring (one scoring run, published whole).
-- Advisory lock key space 7301 = churndb scoring runs (second key: run_id).

-- name: fail_abandoned_runs
-- A 'running' run whose process no longer holds the run's advisory lock was killed: mark it failed.
UPDATE churndb.scoring_runs r
SET status = 'failed', finished_at = now(),
    error = 'abandoned: the process running it stopped before publishing (nothing of it was published)'
WHERE r.status = 'running'
  AND NOT EXISTS (SELECT 1 FROM pg_locks l
                  WHERE l.locktype = 'advisory' AND l.classid = 7301 AND l.objid = r.run_id AND l.objsubid = 2
                    AND l.granted)
RETURNING run_id;

-- name: drop_abandoned_staging
-- Workers' staging rows of runs that ended without publishing (a run drops its own when it ends).
SELECT churndb.drop_run_staging(r.run_id)
FROM churndb.scoring_runs r
WHERE r.status <> 'running' AND to_regclass(format('churndb.score_staging_r%s', r.run_id)) IS NOT NULL;

-- name: drop_run_staging
SELECT churndb.drop_run_staging(%(run_id)s);

-- name: start_run
INSERT INTO churndb.scoring_runs (model_version, policy_version, as_of_date, source, campaign_id, is_shadow, host, pid,
                                  executor)
VALUES (%(model_version)s, %(policy_version)s, %(as_of_date)s, %(source)s, %(campaign_id)s, %(is_shadow)s,
        %(host)s, %(pid)s, %(executor)s)
RETURNING run_id, started_at;

-- name: hold_run_lock
SELECT pg_advisory_lock(7301, %(run_id)s::int);

-- name: fail_run
UPDATE churndb.scoring_runs SET status = 'failed', finished_at = now(), error = %(error)s,
       stage_seconds = %(stage_seconds)s
WHERE run_id = %(run_id)s AND status = 'running';

-- name: ensure_partition
SELECT churndb.ensure_score_history_partition(%(at)s);

-- name: count_latest_customers
SELECT count(DISTINCT customer_id) FROM churndb.customer_snapshots WHERE as_of_date <= %(as_of_date)s;

-- name: latest_snapshot_date
SELECT max(as_of_date) FROM churndb.customer_snapshots;

-- name: copy_latest_snapshots_chunk
-- The latest snapshot on or before the run's as-of date of the next customers after a key (up to
-- a last key), in key order (keyset pagination: each chunk is one index range scan).
COPY (
    SELECT DISTINCT ON (customer_id) *
    FROM churndb.customer_snapshots
    WHERE as_of_date <= %(as_of_date)s AND customer_id > %(after)s AND customer_id <= %(upto)s
    ORDER BY customer_id, as_of_date DESC
    LIMIT %(limit)s
) TO STDOUT WITH (FORMAT csv, HEADER true);

-- name: copy_score_history
COPY churndb.score_history (scored_at, run_id, customer_id, model_version, churn_probability, risk_score,
    risk_category, retention_action, estimated_intervention_cost, estimated_revenue_at_risk, snapshot_date,
    is_shadow, top_reasons) FROM STDIN WITH (FORMAT csv);

-- name: create_target_staging
-- The run's candidate targets, staged inside the publishing transaction.
CREATE TEMP TABLE run_targets (
    customer_id bigint PRIMARY KEY, churn_probability float8, risk_score smallint, risk_category text,
    retention_action text, suggested_offer text, estimated_intervention_cost numeric(12,2),
    estimated_revenue_at_risk numeric(14,2), expected_net_value numeric(14,2), top_reasons jsonb,
    treatment_group text
) ON COMMIT DROP;

-- name: copy_target_staging
COPY run_targets (customer_id, churn_probability, risk_score, risk_category, retention_action, suggested_offer,
    estimated_intervention_cost, estimated_revenue_at_risk, expected_net_value, top_reasons, treatment_group)
    FROM STDIN WITH (FORMAT csv);

-- name: apply_target_caps
-- Under a budget and/or contact capacity, keep the customers with the highest expected net value
-- (p x success rate x value at risk - cost) until the budget or the capacity is spent.
WITH ranked AS (
    SELECT customer_id,
           sum(estimated_intervention_cost) OVER w AS spent,
           row_number() OVER w AS n
    FROM run_targets
    WINDOW w AS (ORDER BY expected_net_value DESC, customer_id)
)
DELETE FROM run_targets t USING ranked r
WHERE t.customer_id = r.customer_id
  AND ((%(budget)s::numeric IS NOT NULL AND r.spent > %(budget)s::numeric)
    OR (%(capacity)s::int IS NOT NULL AND r.n > %(capacity)s::int));

-- name: lock_targets
-- The publish takes the table before touching rows: a CRM transaction updating its columns waits
-- (its update is applied after the publish commits, never lost) and the two can never deadlock.
SELECT churndb.lock_retention_targets();

-- name: publish_targets
-- Model-owned columns are refreshed; crm_* columns are never touched by a run.
INSERT INTO churndb.retention_targets AS t
    (customer_id, churn_probability, risk_score, risk_category, retention_action, suggested_offer,
     estimated_intervention_cost, estimated_revenue_at_risk, expected_net_value, top_reasons, treatment_group,
     campaign_id, policy_version, model_version, run_id, scored_at, is_current, first_targeted_at, dropped_at)
SELECT customer_id, churn_probability, risk_score, risk_category, retention_action, suggested_offer,
       estimated_intervention_cost, estimated_revenue_at_risk, expected_net_value, top_reasons, treatment_group,
       %(campaign_id)s, %(policy_version)s, %(model_version)s, %(run_id)s, %(scored_at)s, true, %(scored_at)s, NULL
FROM run_targets
ORDER BY customer_id                      -- one lock order for every publisher: no deadlock between runs
ON CONFLICT (customer_id) DO UPDATE SET
    churn_probability = excluded.churn_probability, risk_score = excluded.risk_score,
    risk_category = excluded.risk_category, retention_action = excluded.retention_action,
    suggested_offer = excluded.suggested_offer,
    estimated_intervention_cost = excluded.estimated_intervention_cost,
    estimated_revenue_at_risk = excluded.estimated_revenue_at_risk,
    expected_net_value = excluded.expected_net_value, top_reasons = excluded.top_reasons,
    treatment_group = excluded.treatment_group, campaign_id = excluded.campaign_id,
    policy_version = excluded.policy_version, model_version = excluded.model_version,
    run_id = excluded.run_id, scored_at = excluded.scored_at, is_current = true,
    first_targeted_at = CASE WHEN t.is_current THEN t.first_targeted_at ELSE excluded.first_targeted_at END,
    dropped_at = NULL;

-- name: drop_stale_targets
-- Customers no longer targeted stay visible to the CRM, marked, not deleted.
UPDATE churndb.retention_targets t
SET is_current = false, dropped_at = %(scored_at)s
WHERE t.is_current AND NOT EXISTS (SELECT 1 FROM run_targets r WHERE r.customer_id = t.customer_id);

-- name: count_targets
SELECT count(*), count(*) FILTER (WHERE treatment_group = 'control') FROM run_targets;

-- name: succeed_run
UPDATE churndb.scoring_runs
SET status = 'succeeded', finished_at = clock_timestamp(), customers_scored = %(customers)s,
    targets = %(targets)s, partitions = %(partitions)s, stage_seconds = %(stage_seconds)s, summary = %(summary)s
WHERE run_id = %(run_id)s;

-- name: segment_counts
SELECT lower(risk_category), count(*) FROM churndb.score_history WHERE run_id = %(run_id)s GROUP BY 1;

-- name: model_baseline
-- The training distribution of each input column (bins and shares), for drift counts.
SELECT coalesce(feature_spec -> 'baseline', '{}'::jsonb) FROM churndb.model_versions
WHERE model_version = %(model_version)s;

-- name: insert_segment_summary
-- Per-category totals of the run, published with it (the views read these, not 30M history rows).
INSERT INTO churndb.run_segment_summary
    (run_id, risk_category, min_score, customers, avg_score, revenue_at_risk, intervention_cost)
SELECT run_id, risk_category, min(risk_score), count(*), avg(risk_score)::float8,
       sum(estimated_revenue_at_risk), sum(estimated_intervention_cost)
FROM churndb.score_history
WHERE run_id = %(run_id)s
GROUP BY run_id, risk_category;

-- name: insert_roi_summary
-- Projected program figures per category of the published targets; control customers are
-- targeted but not contacted, so they carry no cost and no expected saving.
INSERT INTO churndb.run_roi_summary
    (run_id, risk_category, sort_score, targeted, contacted, program_cost, expected_retained,
     expected_revenue_saved, contacted_revenue_at_risk, success_rate, horizon_months)
SELECT %(run_id)s, risk_category, max(risk_score), count(*),
       count(*) FILTER (WHERE treatment_group = 'treatment'),
       coalesce(sum(estimated_intervention_cost) FILTER (WHERE treatment_group = 'treatment'), 0),
       coalesce(sum(churn_probability * %(success_rate)s) FILTER (WHERE treatment_group = 'treatment'), 0),
       -- p x success rate x monthly charges x horizon = success rate x revenue at risk
       coalesce(sum(estimated_revenue_at_risk * %(success_rate)s) FILTER (WHERE treatment_group = 'treatment'), 0),
       coalesce(sum(estimated_revenue_at_risk) FILTER (WHERE treatment_group = 'treatment'), 0),
       %(success_rate)s, %(horizon_months)s
FROM run_targets
GROUP BY risk_category;
