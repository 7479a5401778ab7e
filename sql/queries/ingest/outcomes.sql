-- Statements run by churndb.ingest.outcomes: The outcome feed: churn dates and campaign contacts.

-- name: create_outcome_staging
CREATE TEMP TABLE outcome_staging (
    customer_id bigint, churned boolean, churned_on date, campaign_id text, contacted_at timestamptz,
    offer_accepted boolean
) ON COMMIT DROP;

-- name: copy_outcome_staging
COPY outcome_staging (customer_id, churned, churned_on, campaign_id, contacted_at, offer_accepted)
FROM STDIN WITH (FORMAT csv);

-- name: upsert_feed_outcomes
-- Churned customers are recorded at their churn date; the others as "still a customer" at the
-- date the feed covers.  That date is how far training labels and matured monitoring may look.
INSERT INTO churndb.churn_outcomes (customer_id, observed_as_of, churned, churned_on, source, batch_id)
SELECT customer_id, CASE WHEN churned THEN churned_on ELSE %(as_of)s::date END, churned,
       CASE WHEN churned THEN churned_on END, %(feed)s, %(batch_id)s
FROM outcome_staging
ON CONFLICT (customer_id, observed_as_of) DO UPDATE SET
    churned = excluded.churned, churned_on = excluded.churned_on, source = excluded.source,
    batch_id = excluded.batch_id, recorded_at = now();

-- name: source_customer_ids
-- A registered source's keys as written -> churndb's customer ids (keys never loaded are absent).
SELECT customer_key, customer_id FROM churndb.source_keys
WHERE source = %(source)s AND customer_key = ANY(%(keys)s::text[]);

-- name: upsert_intervention_outcomes
-- Rows naming a campaign: what the CRM did and what happened, with the group, category, run and
-- bill the customer had in that campaign's targets.
INSERT INTO churndb.intervention_outcomes
    (campaign_id, customer_id, run_id, treatment_group, risk_category, contacted_at, offer_accepted, churned,
     churned_on, monthly_charges, offer_arm)
SELECT o.campaign_id, o.customer_id, t.run_id, t.treatment_group, t.risk_category, o.contacted_at,
       o.offer_accepted, o.churned, o.churned_on,
       (SELECT s.monthly_charges FROM churndb.customer_snapshots s
        WHERE s.customer_id = o.customer_id ORDER BY s.as_of_date DESC LIMIT 1),
       t.offer_arm
FROM outcome_staging o
JOIN churndb.retention_targets t ON t.customer_id = o.customer_id AND t.campaign_id = o.campaign_id
WHERE o.campaign_id IS NOT NULL
ON CONFLICT (campaign_id, customer_id) DO UPDATE SET
    contacted_at = excluded.contacted_at, offer_accepted = excluded.offer_accepted, churned = excluded.churned,
    churned_on = excluded.churned_on, recorded_at = now()
RETURNING 1;
