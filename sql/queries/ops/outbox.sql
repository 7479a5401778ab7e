-- Statements run by churndb.ops.outbox: draining the notification outbox.

-- name: take_unsent
-- A batch of unsent notifications, locked for this consumer; another consumer skips them.
SELECT notification_id, run_id, customer_id, risk_score, risk_category, churn_probability, retention_action,
       created_at
FROM churndb.notification_outbox
WHERE sent_at IS NULL
ORDER BY notification_id
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED;

-- name: mark_sent
UPDATE churndb.notification_outbox SET sent_at = now(), sent_by = %(consumer)s
WHERE notification_id = ANY(%(ids)s);
