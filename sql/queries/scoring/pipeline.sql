-- Statements run by churndb.scoring.pipeline: The chunk pipeline: read the latest snapshots in key order, write history and staged targets.

-- {table}: customer_snapshots (the telecom layout) or a source's churndb_source.<name>, an Identifier.

-- name: latest_snapshot_date
SELECT max(as_of_date) FROM {table};

-- name: count_latest_customers
SELECT count(DISTINCT customer_id) FROM {table} WHERE as_of_date <= %(as_of_date)s;

-- name: copy_latest_snapshots_chunk
-- The latest snapshot on or before the run's as-of date of the next customers after a key (up to
-- a last key), in key order (keyset pagination: each chunk is one index range scan).
COPY (
    SELECT DISTINCT ON (customer_id) *
    FROM {table}
    WHERE as_of_date <= %(as_of_date)s AND customer_id > %(after)s AND customer_id <= %(upto)s
    ORDER BY customer_id, as_of_date DESC
    LIMIT %(limit)s
) TO STDOUT WITH (FORMAT csv, HEADER true);

-- name: create_run_history
-- The run's own history table, churndb.score_history_r<run_id> (unattached: no reader sees it until the
-- publish attaches it); copy_run_history's table (an Identifier).
SELECT churndb.create_run_history(%(run_id)s);

-- name: index_run_history
-- Its two indexes, built once over all its rows (cheaper than keeping them up during the COPYs).
SELECT churndb.index_run_history(%(run_id)s);

-- name: copy_run_history
COPY {table} (scored_at, run_id, customer_id, model_version, churn_probability, risk_score,
    risk_category, retention_action, estimated_intervention_cost, estimated_revenue_at_risk, snapshot_date,
    is_shadow, top_reasons, source, customer_key, offer_arm, expected_uplift) FROM STDIN WITH (FORMAT csv);

-- name: create_target_staging
-- The run's candidate targets, staged inside the publishing transaction.  Without their reasons: the
-- build takes those from the run's history rows (sent and parsed once, not twice).
CREATE TEMP TABLE run_targets (
    customer_id bigint PRIMARY KEY, customer_key text, churn_probability float8, risk_score smallint, risk_category text,
    retention_action text, suggested_offer text, estimated_intervention_cost numeric(12,2),
    estimated_revenue_at_risk numeric(14,2), expected_net_value numeric(14,2),
    treatment_group text, offer_arm text, expected_uplift float8
) ON COMMIT DROP;

-- name: copy_target_staging
COPY run_targets (customer_id, customer_key, churn_probability, risk_score, risk_category, retention_action, suggested_offer,
    estimated_intervention_cost, estimated_revenue_at_risk, expected_net_value, treatment_group,
    offer_arm, expected_uplift) FROM STDIN WITH (FORMAT csv);
