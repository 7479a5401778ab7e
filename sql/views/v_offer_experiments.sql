-- Offer experiments: per campaign, segment and offer arm, the contacted customers with a known
-- outcome against the segment's control group -- churn rate, uplift with a 95% interval, cost per
-- saved customer -- and, per segment, the better arm only when the interval of its difference to
-- every other arm excludes zero (an arm another beats so is 'worse').  Below 30 customers in an arm or the control group: "not enough data".
WITH outcomes AS (                              -- one row per customer with a known outcome
    SELECT o.campaign_id, coalesce(o.risk_category, 'unknown') AS risk_category, o.treatment_group, o.offer_arm,
           o.churned::int AS churned, coalesce(a.intervention_cost, b.intervention_cost) AS cost
    FROM churndb.intervention_outcomes o
    LEFT JOIN churndb.scoring_runs r ON r.run_id = o.run_id
    LEFT JOIN churndb.segment_policy_bands b ON b.policy_version = r.policy_version AND b.risk_category = o.risk_category
    LEFT JOIN churndb.segment_policy_arms a ON a.policy_version = r.policy_version
                                          AND a.risk_category = o.risk_category AND a.arm = o.offer_arm
    WHERE o.churned IS NOT NULL
      AND (o.treatment_group = 'control' OR (o.contacted_at IS NOT NULL AND o.offer_arm IS NOT NULL))
), controls AS (
    SELECT campaign_id, risk_category, count(*) AS control, avg(churned)::float8 AS control_churn_rate
    FROM outcomes WHERE treatment_group = 'control'
    GROUP BY campaign_id, risk_category
), arms AS (
    SELECT campaign_id, risk_category, offer_arm AS arm, count(*) AS contacted, sum(churned) AS churned,
           avg(churned)::float8 AS churn_rate, sum(cost)::float8 AS program_cost
    FROM outcomes WHERE treatment_group = 'treatment'
    GROUP BY campaign_id, risk_category, offer_arm
), measured AS (
    SELECT a.*, coalesce(c.control, 0) AS control, c.control_churn_rate,
           a.contacted >= 30 AND coalesce(c.control, 0) >= 30 AS enough,
           c.control_churn_rate - a.churn_rate AS uplift,
           1.96 * sqrt(a.churn_rate * (1 - a.churn_rate) / a.contacted
                     + c.control_churn_rate * (1 - c.control_churn_rate) / nullif(c.control, 0)) AS margin
    FROM arms a LEFT JOIN controls c USING (campaign_id, risk_category)
), beats AS (                                   -- an arm beats another when its churn is lower beyond doubt
    SELECT x.campaign_id, x.risk_category, x.arm,
           count(*) AS others,
           count(*) FILTER (WHERE x.enough AND y.enough AND
               y.churn_rate - x.churn_rate - 1.96 * sqrt(x.churn_rate * (1 - x.churn_rate) / x.contacted
                                                        + y.churn_rate * (1 - y.churn_rate) / y.contacted) > 0) AS beaten,
           count(*) FILTER (WHERE x.enough AND y.enough AND
               x.churn_rate - y.churn_rate - 1.96 * sqrt(x.churn_rate * (1 - x.churn_rate) / x.contacted
                                                        + y.churn_rate * (1 - y.churn_rate) / y.contacted) > 0) AS beaten_by
    FROM measured x JOIN measured y
      ON y.campaign_id = x.campaign_id AND y.risk_category = x.risk_category AND y.arm <> x.arm
    GROUP BY x.campaign_id, x.risk_category, x.arm
)
SELECT m.campaign_id, m.risk_category, m.arm, m.contacted, m.control,
       CASE WHEN m.enough THEN 'measured' ELSE 'not enough data' END AS status,
       CASE WHEN m.enough THEN m.churned END AS churned,
       CASE WHEN m.enough THEN m.churn_rate END AS churn_rate,
       CASE WHEN m.enough THEN m.control_churn_rate END AS control_churn_rate,
       CASE WHEN m.enough THEN m.uplift END AS uplift,
       CASE WHEN m.enough THEN m.uplift - m.margin END AS uplift_low,
       CASE WHEN m.enough THEN m.uplift + m.margin END AS uplift_high,
       m.program_cost,
       CASE WHEN m.enough AND m.uplift > 0 THEN m.program_cost / (m.uplift * m.contacted) END AS cost_per_saved,
       CASE WHEN NOT m.enough THEN 'not enough data'
            WHEN coalesce(b.others, 0) = 0 THEN 'only arm'
            WHEN b.beaten = b.others THEN 'better'
            WHEN b.beaten_by > 0 THEN 'worse'
            ELSE 'no clear difference' END AS verdict,
       (SELECT w.arm FROM beats w WHERE w.campaign_id = m.campaign_id AND w.risk_category = m.risk_category
          AND w.others > 0 AND w.beaten = w.others) AS best_arm
FROM measured m
LEFT JOIN beats b USING (campaign_id, risk_category, arm)
ORDER BY m.campaign_id, m.risk_category, m.arm
