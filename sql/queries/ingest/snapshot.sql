-- Statements run by churndb.ingest.snapshot: Telecom snapshots (customer_snapshots) and the labels of training extracts.

-- name: create_snapshot_staging
-- Session-local landing table for COPY, filled chunk by chunk; dropped at commit.  The batch id is
-- given at publish (the batch row is written once the counts are known).
CREATE TEMP TABLE snapshot_staging (LIKE churndb.customer_snapshots) ON COMMIT DROP;
ALTER TABLE snapshot_staging ADD COLUMN is_churn smallint, ADD COLUMN line_number integer,
    ALTER COLUMN batch_id DROP NOT NULL;

-- name: staged_counts
SELECT count(*), count(is_churn) FROM snapshot_staging;

-- name: copy_snapshot_staging
COPY snapshot_staging ({columns}) FROM STDIN WITH (FORMAT csv);

-- name: lock_snapshot_date
-- Loads of one snapshot date publish one at a time (key space 7306 = a snapshot date): whether the date
-- already has rows, looked at next, stays true until this batch commits.  Other dates do not wait.
SELECT pg_advisory_xact_lock(7306, hashtext('churndb.customer_snapshots ' || %(as_of_date)s::date::text));

-- name: snapshot_date_loaded
SELECT EXISTS (SELECT 1 FROM churndb.customer_snapshots WHERE as_of_date = %(as_of_date)s);

-- name: insert_snapshots
-- The conflict clause at the end is empty for a date without rows yet (every night's new snapshot: a
-- plain insert, a quarter cheaper than an upsert), else snapshot_conflict.
INSERT INTO churndb.customer_snapshots
SELECT customer_id, as_of_date, gender, age, region_circle, connection_type, plan_type, contract_type,
       base_plan_category, tenure_months, monthly_charges, total_charges, avg_data_gb_month,
       avg_voice_mins_month, sms_count_month, overage_charges, is_family_plan, is_multi_service,
       network_issues_3m, dropped_call_rate, avg_data_speed_mbps, num_complaints_3m, num_complaints_12m,
       call_center_interactions_3m, last_complaint_resolution_days, app_logins_30d,
       selfcare_transactions_30d, auto_pay_enrolled, late_payment_flag_3m, avg_payment_delay_days, arpu,
       segment_value, nps_score, service_rating_last_6m, received_competitor_offer_flag,
       retention_offer_accepted_flag, %(batch_id)s
FROM snapshot_staging
{on_conflict};

-- name: snapshot_conflict
-- A later batch for the same customer and date replaces the earlier values (no duplicate snapshots).
ON CONFLICT (customer_id, as_of_date) DO UPDATE SET
    gender = excluded.gender, age = excluded.age, region_circle = excluded.region_circle,
    connection_type = excluded.connection_type, plan_type = excluded.plan_type,
    contract_type = excluded.contract_type, base_plan_category = excluded.base_plan_category,
    tenure_months = excluded.tenure_months, monthly_charges = excluded.monthly_charges,
    total_charges = excluded.total_charges, avg_data_gb_month = excluded.avg_data_gb_month,
    avg_voice_mins_month = excluded.avg_voice_mins_month, sms_count_month = excluded.sms_count_month,
    overage_charges = excluded.overage_charges, is_family_plan = excluded.is_family_plan,
    is_multi_service = excluded.is_multi_service, network_issues_3m = excluded.network_issues_3m,
    dropped_call_rate = excluded.dropped_call_rate, avg_data_speed_mbps = excluded.avg_data_speed_mbps,
    num_complaints_3m = excluded.num_complaints_3m, num_complaints_12m = excluded.num_complaints_12m,
    call_center_interactions_3m = excluded.call_center_interactions_3m,
    last_complaint_resolution_days = excluded.last_complaint_resolution_days,
    app_logins_30d = excluded.app_logins_30d, selfcare_transactions_30d = excluded.selfcare_transactions_30d,
    auto_pay_enrolled = excluded.auto_pay_enrolled, late_payment_flag_3m = excluded.late_payment_flag_3m,
    avg_payment_delay_days = excluded.avg_payment_delay_days, arpu = excluded.arpu,
    segment_value = excluded.segment_value, nps_score = excluded.nps_score,
    service_rating_last_6m = excluded.service_rating_last_6m,
    received_competitor_offer_flag = excluded.received_competitor_offer_flag,
    retention_offer_accepted_flag = excluded.retention_offer_accepted_flag,
    batch_id = excluded.batch_id;

-- name: upsert_labels_from_snapshot
-- A training extract's is_churn is the label for its own as-of date.
INSERT INTO churndb.churn_outcomes (customer_id, observed_as_of, churned, source, batch_id)
SELECT customer_id, as_of_date, is_churn = 1, 'extract', %(batch_id)s
FROM snapshot_staging
WHERE is_churn IS NOT NULL
ON CONFLICT (customer_id, observed_as_of) DO UPDATE SET
    churned = excluded.churned, source = excluded.source, batch_id = excluded.batch_id,
    recorded_at = now();
