-- Statements run by churndb.scoring.publish: Publishing a run: retention targets refreshed and summaries written in the run's transaction.

-- name: attach_run_history
-- The run's rows become part of score_history: a catalog change (no row is read or copied), and the
-- run's table no longer takes rows.
SELECT churndb.attach_run_history(%(run_id)s);

-- name: lock_targets
-- The publish takes the table before touching rows: a CRM transaction updating its columns waits
-- (its update is applied after the publish commits, never lost) and the two can never deadlock.
SELECT churndb.lock_retention_targets();

-- name: kept_targets
-- Under a budget and/or contact capacity, keep the customers with the highest expected net value
-- (p x success rate x value at risk - cost) until the budget or the capacity is spent.  The kept rows
-- (at most the capacity) are copied aside and run_targets refilled with them: deleting the millions
-- that do not make the cut, row by row, was most of a capped publish.
CREATE TEMP TABLE run_targets_kept ON COMMIT DROP AS
WITH ranked AS (
    SELECT customer_id,
           sum(estimated_intervention_cost) OVER w AS spent,
           row_number() OVER w AS n
    FROM run_targets
    -- A source without a value column has no net value: the most likely churners first.
    -- (under uplift targeting, net value comes from the expected uplift; without a value column, the
    -- largest expected uplift first)
    WINDOW w AS (ORDER BY expected_net_value DESC NULLS LAST, expected_uplift DESC NULLS LAST,
                          churn_probability DESC, customer_id)
)
SELECT t.* FROM run_targets t JOIN ranked r USING (customer_id)
WHERE (%(budget)s::numeric IS NULL OR r.spent <= %(budget)s::numeric)
  AND (%(capacity)s::int IS NULL OR r.n <= %(capacity)s::int);

-- name: kept_targets_by_capacity
-- The same with a capacity and no budget: the first rows of that order only (a bounded top-N sort).
CREATE TEMP TABLE run_targets_kept ON COMMIT DROP AS
WITH ranked AS (
    SELECT customer_id FROM run_targets
    ORDER BY expected_net_value DESC NULLS LAST, expected_uplift DESC NULLS LAST, churn_probability DESC, customer_id
    LIMIT %(capacity)s
)
SELECT t.* FROM run_targets t JOIN ranked r USING (customer_id);

-- name: empty_targets
TRUNCATE run_targets;

-- name: refill_targets
INSERT INTO run_targets SELECT * FROM run_targets_kept;

-- name: count_targets
SELECT count(*), count(*) FILTER (WHERE treatment_group = 'control') FROM run_targets;

-- name: publish_targets
-- Model-owned columns are refreshed; crm_* columns are never touched by a run.
INSERT INTO churndb.retention_targets AS t
    (customer_id, source, customer_key, churn_probability, risk_score, risk_category, retention_action, suggested_offer,
     estimated_intervention_cost, estimated_revenue_at_risk, expected_net_value, top_reasons, treatment_group,
     campaign_id, policy_version, model_version, run_id, scored_at, is_current, first_targeted_at, dropped_at,
     offer_arm, expected_uplift, uplift_model_version)
SELECT customer_id, %(source)s, coalesce(customer_key, customer_id::text), churn_probability, risk_score,
       risk_category, retention_action, suggested_offer,
       estimated_intervention_cost, estimated_revenue_at_risk, expected_net_value, top_reasons, treatment_group,
       %(campaign_id)s, %(policy_version)s, %(model_version)s, %(run_id)s, %(scored_at)s, true, %(scored_at)s, NULL,
       offer_arm, expected_uplift, CASE WHEN expected_uplift IS NOT NULL THEN %(uplift_model_version)s::int END
FROM run_targets
ORDER BY customer_id                      -- one lock order for every publisher: no deadlock between runs
ON CONFLICT (customer_id) DO UPDATE SET
    customer_key = excluded.customer_key, churn_probability = excluded.churn_probability, risk_score = excluded.risk_score,
    risk_category = excluded.risk_category, retention_action = excluded.retention_action,
    suggested_offer = excluded.suggested_offer,
    estimated_intervention_cost = excluded.estimated_intervention_cost,
    estimated_revenue_at_risk = excluded.estimated_revenue_at_risk,
    expected_net_value = excluded.expected_net_value, top_reasons = excluded.top_reasons,
    treatment_group = excluded.treatment_group, campaign_id = excluded.campaign_id,
    policy_version = excluded.policy_version, model_version = excluded.model_version,
    run_id = excluded.run_id, scored_at = excluded.scored_at, is_current = true,
    offer_arm = excluded.offer_arm, expected_uplift = excluded.expected_uplift,
    uplift_model_version = excluded.uplift_model_version,
    first_targeted_at = CASE WHEN t.is_current THEN t.first_targeted_at ELSE excluded.first_targeted_at END,
    dropped_at = NULL;

-- name: drop_stale_targets
-- Customers of the run's source no longer targeted stay visible to the CRM, marked, not deleted
-- (other sources' targets are another run's business).
UPDATE churndb.retention_targets t
SET is_current = false, dropped_at = %(scored_at)s
WHERE t.is_current AND t.source = %(source)s AND NOT EXISTS (SELECT 1 FROM run_targets r WHERE r.customer_id = t.customer_id);

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
       -- p x success rate x monthly charges x horizon = success rate x revenue at risk; NULL (unknown,
       -- not zero) when the source has no value column
       CASE WHEN %(has_value)s THEN
           coalesce(sum(estimated_revenue_at_risk * %(success_rate)s) FILTER (WHERE treatment_group = 'treatment'), 0)
       END,
       CASE WHEN %(has_value)s THEN
           coalesce(sum(estimated_revenue_at_risk) FILTER (WHERE treatment_group = 'treatment'), 0)
       END,
       %(success_rate)s, %(horizon_months)s
FROM run_targets
GROUP BY risk_category;

-- name: insert_segment_summary
-- Per-category totals of the run, published with it (the views read these, not 30M history rows).
INSERT INTO churndb.run_segment_summary
    (run_id, risk_category, min_score, customers, avg_score, revenue_at_risk, intervention_cost)
SELECT run_id, risk_category, min(risk_score), count(*), avg(risk_score)::float8,
       sum(estimated_revenue_at_risk), sum(estimated_intervention_cost)
FROM churndb.score_history
WHERE run_id = %(run_id)s
GROUP BY run_id, risk_category;

-- name: previous_published_targets
-- Targets of the newest published (non-shadow) run before this one: the baseline for a sudden shift.
SELECT r.run_id, r.targets FROM churndb.scoring_runs r
WHERE r.status = 'succeeded' AND NOT r.is_shadow AND r.run_id <> %(run_id)s AND r.source = %(source)s
ORDER BY r.finished_at DESC, r.run_id DESC LIMIT 1;

-- name: insert_target_shift_alert
INSERT INTO churndb.alerts (rule, severity, message, run_id, model_version, details)
VALUES ('target_shift', 'warning', %(message)s, %(run_id)s, %(model_version)s, %(details)s);

-- name: queue_notifications
-- Treatment-group targets at or above the alert threshold that the previous published run did not
-- already have there: the customers the CRM / SMS gateway is told about, once.
INSERT INTO churndb.notification_outbox
    (run_id, customer_id, risk_score, risk_category, churn_probability, retention_action)
SELECT %(run_id)s, t.customer_id, t.risk_score, t.risk_category, t.churn_probability, t.retention_action
FROM run_targets t
WHERE t.treatment_group = 'treatment' AND t.risk_score >= %(min_score)s
  AND NOT EXISTS (SELECT 1 FROM churndb.score_history h
                  WHERE h.run_id = %(previous_run)s AND h.customer_id = t.customer_id
                    AND h.risk_score >= %(min_score)s);

-- name: notify_published
-- Delivered to LISTENers only when the publish transaction commits.
SELECT pg_notify('churndb_published', %(summary)s);
