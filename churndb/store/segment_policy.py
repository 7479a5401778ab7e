"""The segment policy in force, read from ``segment_policy`` / ``segment_policy_bands`` (versioned,
effective-dated)."""

from __future__ import annotations

import datetime as dt

import psycopg

from ..base.errors import ChurnDBError
from ..model.bands import Arm, Band, Policy
from .sqlfiles import statements

SQL = statements(__name__)


def policy_in_force(conn: psycopg.Connection, at: dt.datetime | None = None) -> Policy:
    at = at or dt.datetime.now(dt.timezone.utc)
    row = conn.execute(SQL.query("policy_in_force"), {"at": at}).fetchone()
    if not row:
        raise ChurnDBError("no segment policy is in force: run `churndb init` to seed the default policy")
    bands = tuple(Band(*b) for b in conn.execute(SQL.query("policy_bands"), {"policy_version": row[0]}).fetchall())
    if not bands:
        raise ChurnDBError(f"segment policy {row[0]} has no bands")
    arms = tuple(Arm(*a) for a in conn.execute(SQL.query("policy_arms"), {"policy_version": row[0]}).fetchall())
    policy = Policy(row[0], row[1], row[2], row[3], row[4], row[5], row[6] or {}, bands, targeting=row[7], arms=arms)
    policy.check_arms()
    return policy
