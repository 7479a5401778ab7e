"""Draining the notification outbox (a CRM or SMS gateway's side of ``pg_notify('churndb_published')``).

``drain`` takes unsent rows in batches with ``FOR UPDATE SKIP LOCKED``, hands each batch to ``send``
and marks it sent in the same transaction.  A consumer that crashes before its commit leaves the
batch unsent (it is offered again, once, to the next drain); a batch that was marked is never
offered again; two consumers never get the same row.  ``send`` should be idempotent per
``notification_id`` (an SMS gateway's message id), which covers the one crash window left: sent, then
the process dies before the commit.  Example consumer: docs/NOTIFICATIONS.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import psycopg

from ..store import db
from ..store.sqlfiles import statements

SQL = statements(__name__)


@dataclass(frozen=True)
class Notification:
    notification_id: int
    run_id: int
    customer_id: int
    risk_score: int
    risk_category: str
    churn_probability: float
    retention_action: str
    created_at: object


def drain(url: str, send: Callable[[list[Notification]], None], consumer: str = "churndb", batch: int = 500) -> int:
    """Send every unsent notification; returns how many were sent (and marked)."""
    sent = 0
    try:
        with db.connect(url, application=f"churndb-outbox-{consumer}") as conn:
            while True:
                with conn.transaction():
                    rows = [Notification(*r) for r in conn.execute(SQL.query("take_unsent"), {"limit": batch})]
                    if not rows:
                        return sent
                    send(rows)
                    conn.execute(SQL.query("mark_sent"), {"consumer": consumer,
                                                          "ids": [r.notification_id for r in rows]})
                sent += len(rows)
    except psycopg.Error as exc:
        raise db.as_churndb_error(exc) from None
