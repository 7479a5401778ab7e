"""The model registry in PostgreSQL: signed artifacts, champion / challenger, rollback.

Artifacts are joblib bytes signed with HMAC-SHA256 (see ``signing``); loading
verifies the signature *before* unpickling, so an altered, swapped or unsigned
artifact is never deserialised.  Promotions and rollbacks are rows in
``model_deployments``; the database allows one champion at a time.
"""

from __future__ import annotations

import getpass
import io
import json
from dataclasses import dataclass
from typing import Any

import joblib
import psycopg

from . import signing
from .ensemble import set_prediction_threads
from .errors import ChurnDBError
from .sqlfiles import query


@dataclass(frozen=True)
class ModelSummary:
    model_version: int
    status: str
    created_at: str
    promoted_at: str | None
    auc: float | None
    brier: float | None
    ece: float | None
    source: str | None
    rows_train: int | None
    artifact_sha256: str


def actor() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "unknown"


def register(conn: psycopg.Connection, key: bytes, model: Any, *, spec: dict, feature_spec: dict,
             training: dict, metrics: dict, library_versions: dict) -> int:
    """Store a fitted model as a new candidate; returns its version."""
    buf = io.BytesIO()
    joblib.dump(model, buf, compress=3)
    artifact = buf.getvalue()
    version = conn.execute(query("next_model_version")).fetchone()[0]
    digest, signature = signing.sign(key, version, artifact)
    conn.execute(query("insert_model_version"), {
        "model_version": version, "spec": json.dumps(spec), "feature_spec": json.dumps(feature_spec),
        "training": json.dumps(training), "metrics": json.dumps(metrics),
        "library_versions": json.dumps(library_versions), "artifact": artifact,
        "artifact_sha256": digest, "artifact_signature": signature,
    })
    return version


def resolve(conn: psycopg.Connection, model: str | int | None) -> int:
    """'champion' (or None) -> the champion's version; a number -> that version if it exists."""
    if model in (None, "champion"):
        row = conn.execute(query("champion_version")).fetchone()
        if not row:
            raise ChurnDBError("there is no champion model yet: train one and `churndb models promote V`")
        return int(row[0])
    try:
        version = int(model)
    except (TypeError, ValueError):
        raise ChurnDBError(f"model {model!r} is not a version number or 'champion'") from None
    if not conn.execute(query("model_status"), {"model_version": version}).fetchone():
        raise ChurnDBError(f"there is no model version {version}")
    return version


def load(conn: psycopg.Connection, key: bytes, model: str | int | None = "champion") -> tuple[int, Any, str]:
    """Verify and unpickle a model; returns (version, model, artifact sha256)."""
    version = resolve(conn, model)
    _, artifact, digest, signature = conn.execute(query("model_artifact"), {"model_version": version}).fetchone()
    signing.verify(key, version, bytes(artifact), digest, signature)
    model = joblib.load(io.BytesIO(bytes(artifact)))
    set_prediction_threads(model)
    return version, model, digest


def list_models(conn: psycopg.Connection) -> list[ModelSummary]:
    rows = conn.execute(query("list_models")).fetchall()
    return [ModelSummary(r[0], r[1], r[2].isoformat(), r[3].isoformat() if r[3] else None, *r[4:]) for r in rows]


def show(conn: psycopg.Connection, version: int) -> dict:
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        row = cur.execute(query("show_model"), {"model_version": version}).fetchone()
    if not row:
        raise ChurnDBError(f"there is no model version {version}")
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}


def promote(conn: psycopg.Connection, version: int, reason: str, details: dict | None = None) -> dict:
    """Make ``version`` the single champion (call inside a transaction)."""
    conn.execute(query("lock_models"))
    status = conn.execute(query("model_status"), {"model_version": version}).fetchone()
    if not status:
        raise ChurnDBError(f"there is no model version {version}")
    if status[0] == "champion":
        raise ChurnDBError(f"model {version} is already the champion")
    if status[0] == "rejected":
        raise ChurnDBError(f"model {version} was rejected when validated; train a new candidate instead")
    current = conn.execute(query("champion_version")).fetchone()
    if current:
        conn.execute(query("set_model_status"), {"status": "retired", "model_version": current[0]})
    who = actor()
    conn.execute(query("crown_model"), {"model_version": version, "actor": who})
    deployment_id, at = conn.execute(query("record_deployment"), {
        "action": "promote", "from_version": current[0] if current else None, "to_version": version,
        "reason": reason, "actor": who, "details": json.dumps(details or {}),
    }).fetchone()
    return {"model_version": version, "previous_champion": current[0] if current else None,
            "deployment_id": deployment_id, "deployed_at": at.isoformat(), "status": "champion"}


def rollback(conn: psycopg.Connection, reason: str = "rollback") -> dict:
    """Restore the champion that the current champion replaced (call inside a transaction)."""
    conn.execute(query("lock_models"))
    current = conn.execute(query("champion_version")).fetchone()
    if not current:
        raise ChurnDBError("there is no champion to roll back")
    previous = conn.execute(query("previous_champion"), {"current": current[0]}).fetchone()
    if not previous:
        raise ChurnDBError(f"model {current[0]} has no previous champion to roll back to")
    who = actor()
    conn.execute(query("set_model_status"), {"status": "retired", "model_version": current[0]})
    conn.execute(query("crown_model"), {"model_version": previous[0], "actor": who})
    deployment_id, at = conn.execute(query("record_deployment"), {
        "action": "rollback", "from_version": current[0], "to_version": previous[0],
        "reason": reason, "actor": who, "details": "{}",
    }).fetchone()
    return {"model_version": previous[0], "rolled_back": current[0], "deployment_id": deployment_id,
            "deployed_at": at.isoformat(), "status": "champion"}


def champion_at(conn: psycopg.Connection, at) -> int | None:
    row = conn.execute(query("champion_at"), {"at": at}).fetchone()
    return row[0] if row else None
