-- Statements run by churndb.scoring.cluster: The Dask executor: an exported snapshot, key-range partitions, the run's staging partition.

-- name: export_snapshot
-- Every worker reads the customer base as of this one snapshot (SET TRANSACTION SNAPSHOT).
SELECT pg_export_snapshot();

-- name: partition_bounds
-- Cut points that split the customers scored on an as-of date into slices of about equal size.
-- {table}: customer_snapshots or a source's churndb_source.<name> (an Identifier).
WITH ids AS (
    SELECT DISTINCT customer_id FROM {table} WHERE as_of_date <= %(as_of_date)s
)
SELECT min(customer_id), max(customer_id), count(*),
       percentile_disc(%(fractions)s::float8[]) WITHIN GROUP (ORDER BY customer_id)
FROM ids;

-- name: create_run_staging
SELECT churndb.create_run_staging(%(run_id)s);

-- name: drop_run_staging
SELECT churndb.drop_run_staging(%(run_id)s);

-- name: insert_partition
INSERT INTO churndb.run_partitions (run_id, partition_no, after_customer_id, upto_customer_id)
VALUES (%(run_id)s, %(partition_no)s, %(after)s, %(upto)s);

-- name: claim_partition
-- Committed on its own, so the attempt count shows every try, including one whose worker died.
UPDATE churndb.run_partitions
SET attempts = attempts + 1, worker = %(worker)s, started_at = now()
WHERE run_id = %(run_id)s AND partition_no = %(partition_no)s AND status = 'pending'
RETURNING attempts;

-- name: lock_partition
-- Held for the whole write: a second attempt at the same slice (a worker thought lost that is still
-- running) waits here and then finds the slice done.
SELECT status, summary FROM churndb.run_partitions
WHERE run_id = %(run_id)s AND partition_no = %(partition_no)s
FOR UPDATE;

-- name: partition_summary
SELECT status, summary FROM churndb.run_partitions WHERE run_id = %(run_id)s AND partition_no = %(partition_no)s;

-- name: copy_staging
-- A partition's targeted rows, without their reasons (score_staging.top_reasons stays NULL): the
-- coordinator's build takes those from the run's history rows, which hold them already.
COPY churndb.score_staging (run_id, partition_no, customer_id, churn_probability, risk_score, risk_category,
    retention_action, estimated_intervention_cost, estimated_revenue_at_risk, snapshot_date, targeted,
    suggested_offer, expected_net_value, treatment_group, customer_key, offer_arm, expected_uplift)
    FROM STDIN WITH (FORMAT csv);

-- name: finish_partition
UPDATE churndb.run_partitions
SET status = 'done', customers = %(customers)s, summary = %(summary)s, finished_at = now()
WHERE run_id = %(run_id)s AND partition_no = %(partition_no)s;

-- name: partitions_state
SELECT count(*) FILTER (WHERE status = 'done'), count(*), coalesce(sum(customers), 0)
FROM churndb.run_partitions WHERE run_id = %(run_id)s;

-- name: stage_targets_from_staging
INSERT INTO run_targets (customer_id, customer_key, churn_probability, risk_score, risk_category, retention_action,
    suggested_offer, estimated_intervention_cost, estimated_revenue_at_risk, expected_net_value,
    treatment_group, offer_arm, expected_uplift)
SELECT customer_id, customer_key, churn_probability, risk_score, risk_category, retention_action, suggested_offer,
       estimated_intervention_cost, estimated_revenue_at_risk, expected_net_value, treatment_group,
       offer_arm, expected_uplift
FROM churndb.score_staging
WHERE run_id = %(run_id)s AND targeted;
