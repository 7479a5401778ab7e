"""model_backtests: time-ordered evaluations (``churndb backtest``).

One row per backtest: the window and settings asked for, each fold (trained on snapshots up to a
date, tested on the next date: AUC, Brier, top-decile lift, rows) and the folds' spread.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UP = r"""
CREATE TABLE churndb.model_backtests (
    backtest_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text,
    spec         jsonb NOT NULL,
    folds        jsonb NOT NULL,
    summary      jsonb NOT NULL
);
GRANT SELECT, INSERT ON churndb.model_backtests TO churn_scorer;
GRANT SELECT ON churndb.model_backtests TO churn_auditor;
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute("DROP TABLE churndb.model_backtests")
