-- What the program achieved, per campaign and category (and per campaign in total): churn of
-- contacted treatment customers vs the control group, the measured uplift with a 95% interval,
-- and realized revenue saved and ROI.  Below 30 customers in either group it says so instead.
WITH outcomes AS (                              -- one row per customer with a known outcome
    SELECT o.campaign_id, coalesce(o.risk_category, 'unknown') AS risk_category, o.treatment_group,
           o.churned::int AS churned, coalesce(o.monthly_charges, 0) AS monthly_charges,
           coalesce(b.intervention_cost, 0) AS cost, coalesce(p.value_horizon_months, 12) AS horizon
    FROM churndb.intervention_outcomes o
    LEFT JOIN churndb.scoring_runs r ON r.run_id = o.run_id
    LEFT JOIN churndb.segment_policy p ON p.policy_version = r.policy_version
    LEFT JOIN churndb.segment_policy_bands b ON b.policy_version = r.policy_version AND b.risk_category = o.risk_category
    WHERE o.churned IS NOT NULL AND (o.treatment_group = 'control' OR o.contacted_at IS NOT NULL)
), groups AS (                                  -- treatment and control side by side
    SELECT campaign_id, CASE WHEN grouping(risk_category) = 1 THEN 'All' ELSE risk_category END AS risk_category,
           count(*) FILTER (WHERE treatment_group = 'treatment')                         AS treated,
           count(*) FILTER (WHERE treatment_group = 'control')                           AS control,
           avg(churned) FILTER (WHERE treatment_group = 'treatment')::float8             AS treated_churn_rate,
           avg(churned) FILTER (WHERE treatment_group = 'control')::float8               AS control_churn_rate,
           avg(monthly_charges * horizon) FILTER (WHERE treatment_group = 'treatment')::float8 AS value_per_customer,
           sum(cost) FILTER (WHERE treatment_group = 'treatment')::float8                AS program_cost
    FROM outcomes
    GROUP BY GROUPING SETS ((campaign_id, risk_category), (campaign_id))
), measured AS (
    SELECT g.*, control_churn_rate - treated_churn_rate AS uplift,
           1.96 * sqrt(treated_churn_rate * (1 - treated_churn_rate) / nullif(treated, 0)
                     + control_churn_rate * (1 - control_churn_rate) / nullif(control, 0)) AS margin
    FROM groups g
)
SELECT campaign_id, risk_category, treated, control,
       CASE WHEN treated < 30 OR control < 30 THEN 'not enough data' ELSE 'measured' END AS status,
       CASE WHEN treated >= 30 AND control >= 30 THEN treated_churn_rate END AS treated_churn_rate,
       CASE WHEN treated >= 30 AND control >= 30 THEN control_churn_rate END AS control_churn_rate,
       CASE WHEN treated >= 30 AND control >= 30 THEN uplift END AS uplift,
       CASE WHEN treated >= 30 AND control >= 30 THEN uplift - margin END AS uplift_low,
       CASE WHEN treated >= 30 AND control >= 30 THEN uplift + margin END AS uplift_high,
       CASE WHEN treated >= 30 AND control >= 30 THEN uplift * treated * value_per_customer END AS revenue_saved,
       program_cost,
       CASE WHEN treated >= 30 AND control >= 30 AND program_cost > 0
            THEN (uplift * treated * value_per_customer - program_cost) / program_cost END AS roi,
       CASE WHEN treated >= 30 AND control >= 30 AND program_cost > 0
            THEN ((uplift - margin) * treated * value_per_customer - program_cost) / program_cost END AS roi_low,
       CASE WHEN treated >= 30 AND control >= 30 AND program_cost > 0
            THEN ((uplift + margin) * treated * value_per_customer - program_cost) / program_cost END AS roi_high
FROM measured
