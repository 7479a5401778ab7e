-- Statements run by churndb.store.segment_policy: The segment policy in force.

-- name: policy_in_force
-- The policy version in force at a moment: the latest effective_from not after it.
SELECT policy_version, success_rate::float8, value_horizon_months, control_share::float8,
       program_budget::float8, contact_capacity, reason_playbooks, targeting
FROM churndb.segment_policy
WHERE effective_from <= %(at)s
ORDER BY effective_from DESC, policy_version DESC
LIMIT 1;

-- name: policy_bands
SELECT risk_category, min_score, max_score, retention_action, intervention_cost::float8, targeted
FROM churndb.segment_policy_bands
WHERE policy_version = %(policy_version)s
ORDER BY min_score DESC;

-- name: policy_arms
-- The offers a segment tests, in a fixed order (the arm a customer's hash falls in depends on it).
SELECT risk_category, arm, offer, share::float8, intervention_cost::float8
FROM churndb.segment_policy_arms
WHERE policy_version = %(policy_version)s
ORDER BY risk_category, arm;
