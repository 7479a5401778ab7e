"""Notifications on publish: an outbox of customers newly above the alert threshold.

The retention guide wanted "SMS notifications for scores > 80".  Each published run writes, in its
publish transaction, one ``notification_outbox`` row per treatment-group target whose risk score is
at least ``[notify] min_score`` (80) and was not in the previous published run, and sends
``pg_notify('churndb_published', <run summary>)``, delivered only when the run commits.  A CRM or an
SMS gateway LISTENs and drains the outbox (``churndb.ops.outbox.drain``): rows are taken with
``FOR UPDATE SKIP LOCKED`` and marked sent in the transaction that sent them.  ``churn_crm`` may read
the outbox and mark rows sent, nothing else of it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UP = r"""
CREATE TABLE churndb.notification_outbox (
    notification_id    bigint GENERATED ALWAYS AS IDENTITY,
    run_id             bigint NOT NULL REFERENCES churndb.scoring_runs,
    customer_id        bigint NOT NULL,
    risk_score         smallint NOT NULL,
    risk_category      text NOT NULL,
    churn_probability  double precision NOT NULL,
    retention_action   text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    sent_at            timestamptz,
    sent_by            text,
    PRIMARY KEY (notification_id, customer_id),  -- customer_id in every key: shardable with Citus
    UNIQUE (run_id, customer_id)
);
CREATE INDEX notification_outbox_unsent ON churndb.notification_outbox (notification_id) WHERE sent_at IS NULL;
GRANT SELECT, INSERT ON churndb.notification_outbox TO churn_scorer;
GRANT SELECT ON churndb.notification_outbox TO churn_crm, churn_auditor;
GRANT UPDATE (sent_at, sent_by) ON churndb.notification_outbox TO churn_crm;
"""

DOWN = "DROP TABLE churndb.notification_outbox"


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
