-- Statements run by churndb.scoring.publish: Publishing a run: retention targets refreshed and summaries written in the run's transaction.

-- name: targets_work_mem
-- The targets stage joins the run's targets with its history and the source's partition (hundreds of
-- thousands of rows each): with the server's default 4MB those hash joins spill to disk in 8-16
-- batches.  At least 64MB, for this transaction only (a DBA's larger setting is kept); measured on 469k
-- targets: the build 3.0-3.4 s -> 2.0-2.6 s.
SELECT set_config('work_mem', CASE WHEN pg_size_bytes(current_setting('work_mem')) < 64 * 1024 * 1024
                                   THEN '64MB' ELSE current_setting('work_mem') END, true);

-- name: analyze_run_targets
-- A temporary table has no statistics until analysed: the build's plan took 469k staged targets for 200k.
ANALYZE run_targets;

-- name: attach_run_history
-- The run's rows become part of score_history: a catalog change (no row is read or copied), and the
-- run's table no longer takes rows.
SELECT churndb.attach_run_history(%(run_id)s);

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

-- name: lock_source_targets
-- One build of a source's targets at a time, until its run commits (key space 7305 = a source's targets;
-- 7302 and 7304 are the jobs' locks: a source named like a job must not wait for that job, its own runner).
SELECT pg_advisory_xact_lock(7305, hashtext(%(source)s));

-- name: build_snapshot
-- Taken before the build reads the source's partition: a CRM update this snapshot does not see was
-- made (or committed) after the build read it, and is copied at publish.  With the partition to read
-- (the always-empty retention_targets_none before the source's first publish).
SELECT pg_current_snapshot()::text, n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = coalesce(churndb.targets_partition(%(source)s), 'churndb.retention_targets_none'::regclass);

-- name: create_run_targets
SELECT churndb.create_run_targets(%(run_id)s, %(source)s);

-- name: build_run_targets
-- The source's next CRM targets, in the run's own table ({table}), before the publish takes any lock,
-- from the source's partition ({current}, read directly: the parent stays unlocked for other sources'
-- swaps): this run's targets, with what the CRM recorded for them and when they were first targeted
-- (a customer targeted again after a gap starts anew), and the reasons its history row ({history}, the
-- run's own table: one row per customer) holds ...
INSERT INTO {table}
    (customer_id, source, customer_key, churn_probability, risk_score, risk_category, retention_action, suggested_offer,
     estimated_intervention_cost, estimated_revenue_at_risk, expected_net_value, top_reasons, treatment_group,
     campaign_id, policy_version, model_version, run_id, scored_at, is_current, first_targeted_at, dropped_at,
     crm_status, crm_owner, crm_notes, crm_updated_at, offer_arm, expected_uplift, uplift_model_version)
SELECT r.customer_id, %(source)s, coalesce(r.customer_key, r.customer_id::text), r.churn_probability, r.risk_score,
       r.risk_category, r.retention_action, r.suggested_offer, r.estimated_intervention_cost,
       r.estimated_revenue_at_risk, r.expected_net_value, h.top_reasons, r.treatment_group,
       %(campaign_id)s, %(policy_version)s, %(model_version)s, %(run_id)s, %(scored_at)s, true,
       CASE WHEN o.is_current THEN o.first_targeted_at ELSE %(scored_at)s END, NULL,
       coalesce(o.crm_status, 'new'), o.crm_owner, o.crm_notes, o.crm_updated_at,
       r.offer_arm, r.expected_uplift, CASE WHEN r.expected_uplift IS NOT NULL THEN %(uplift_model_version)s::int END
FROM run_targets r
LEFT JOIN {history} h ON h.customer_id = r.customer_id  -- LEFT: a target is never lost for want of its reasons
LEFT JOIN {current} o ON o.customer_id = r.customer_id
UNION ALL
-- ... and the source's targets this run no longer has: kept for the CRM, marked dropped (once).
SELECT o.customer_id, o.source, o.customer_key, o.churn_probability, o.risk_score, o.risk_category,
       o.retention_action, o.suggested_offer, o.estimated_intervention_cost, o.estimated_revenue_at_risk,
       o.expected_net_value, o.top_reasons, o.treatment_group, o.campaign_id, o.policy_version, o.model_version,
       o.run_id, o.scored_at, false, o.first_targeted_at,
       CASE WHEN o.is_current THEN %(scored_at)s::timestamptz ELSE o.dropped_at END,
       o.crm_status, o.crm_owner, o.crm_notes, o.crm_updated_at, o.offer_arm, o.expected_uplift, o.uplift_model_version
FROM {current} o
WHERE NOT EXISTS (SELECT 1 FROM run_targets r WHERE r.customer_id = o.customer_id);

-- name: index_run_targets
-- Indexed, then checked by the owner against the source's partition: no customer lost, no CRM column
-- changed but by the CRM since the snapshot, no CRM work made up; the scorer can write it no more.
SELECT churndb.index_run_targets(%(run_id)s, %(snapshot)s);

-- name: lock_targets
-- The publish takes the table before the swap: a CRM transaction updating its columns waits (its
-- update lands in the new partition after the publish commits, never lost) and the two can never
-- deadlock.
SELECT churndb.lock_retention_targets();

-- name: swap_run_targets
-- Under the lock: the CRM's updates the build's snapshot did not see copied into the run's table (a
-- few rows, not every target), then the source's partition out and the run's in: catalog changes;
-- the CRM change log pruned of what every later build will see.
SELECT churndb.swap_run_targets(%(run_id)s, %(source)s, %(snapshot)s);

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
-- Per-category totals of the run, published with it (the views read these, not 30M history rows),
-- from the run's own history table ({table}) before it is attached.
INSERT INTO churndb.run_segment_summary
    (run_id, risk_category, min_score, customers, avg_score, revenue_at_risk, intervention_cost)
SELECT run_id, risk_category, min(risk_score), count(*), avg(risk_score)::float8,
       sum(estimated_revenue_at_risk), sum(estimated_intervention_cost)
FROM {table}
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
