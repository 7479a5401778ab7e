"""The model registry in PostgreSQL: signed artifacts, champion / challenger, rollback.

Artifacts are joblib bytes signed with HMAC-SHA256 (see ``signing``); loading
verifies the signature *before* unpickling, so an altered, swapped or unsigned
artifact is never deserialised.  Promotions and rollbacks are rows in
``model_deployments``; the database allows one champion at a time.

This module is the only one that changes a model's status.
"""

from __future__ import annotations

import getpass
import importlib
import io
import json
import sys
from dataclasses import dataclass

import joblib
import psycopg

from ..base.errors import ChurnDBError
from ..model.predictor import ChurnModel
from . import signing
from .sqlfiles import statements

SQL = statements(__name__)
TELECOM = "telecom"  # the built-in layout's source name (store.sources.TELECOM)
# Artifacts stored before churndb's modules moved into layers name the classes by their old modules.
LEGACY_MODULES = {"churndb.features": "churndb.model.features", "churndb.ensemble": "churndb.model.ensemble"}


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
    kind: str = "churn"


def actor() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "unknown"


def register(conn: psycopg.Connection, key: bytes, model, *, spec: dict, feature_spec: dict,
             training: dict, metrics: dict, library_versions: dict) -> int:
    """Store a fitted model (a ``ChurnModel``, or an uplift model with ``spec["kind"] = "uplift"``) as a
    new candidate, signed; returns its version."""
    buf = io.BytesIO()
    joblib.dump(model.pipeline if isinstance(model, ChurnModel) else model, buf, compress=3)
    artifact = buf.getvalue()
    version = conn.execute(SQL.query("next_model_version")).fetchone()[0]
    digest, signature = signing.sign(key, version, artifact)
    conn.execute(SQL.query("insert_model_version"), {
        "model_version": version, "spec": json.dumps(spec), "feature_spec": json.dumps(feature_spec),
        "training": json.dumps(training), "metrics": json.dumps(metrics),
        "library_versions": json.dumps(library_versions), "artifact": artifact,
        "artifact_sha256": digest, "artifact_signature": signature,
    })
    return version


def resolve(conn: psycopg.Connection, model: str | int | None, source: str = TELECOM) -> int:
    """'champion' (or None) -> the churn champion of ``source``; a number -> that version if it exists."""
    if model in (None, "champion"):
        version = champion_version(conn, source)
        if version is None:
            where = "" if source == TELECOM else f" for source {source}"
            raise ChurnDBError(f"there is no champion model{where} yet: train one and `churndb models promote V`")
        return version
    try:
        version = int(model)
    except (TypeError, ValueError):
        raise ChurnDBError(f"model {model!r} is not a version number or 'champion'") from None
    _status(conn, version)
    return version


def load(conn: psycopg.Connection, key: bytes, model: str | int | None = "champion",
         threads: int | None = None, source: str = TELECOM) -> tuple[int, ChurnModel, str]:
    """Verify and unpickle a model (``champion``: of ``source``); returns (version, model, artifact sha256)."""
    version = resolve(conn, model, source)
    if model_kind(conn, version) != "churn":
        raise ChurnDBError(f"model {version} is an uplift model: it estimates what a contact buys, not churn risk")
    artifact, digest, signature = stored_artifact(conn, version)
    return version, verified_model(key, version, artifact, digest, signature, threads), digest


def load_uplift(conn: psycopg.Connection, key: bytes, version: int):
    """Verify and unpickle an uplift model (``model.uplift.TLearner``)."""
    if model_kind(conn, version) != "uplift":
        raise ChurnDBError(f"model {version} is not an uplift model")
    artifact, digest, signature = stored_artifact(conn, version)
    signing.verify(key, version, artifact, digest, signature)
    return joblib.load(io.BytesIO(artifact))


def model_kind(conn: psycopg.Connection, version: int) -> str:
    """'churn' or 'uplift'."""
    return _status(conn, version)[2]


def _status(conn: psycopg.Connection, version: int) -> tuple[str, str, str]:
    """(status, source, kind) of a model version; one line when there is none."""
    row = conn.execute(SQL.query("model_status"), {"model_version": version}).fetchone()
    if not row:
        raise ChurnDBError(f"there is no model version {version}")
    return row


def stored_artifact(conn: psycopg.Connection, version: int) -> tuple[bytes, str, str | None]:
    """(artifact bytes, recorded sha256, signature) of a model version, not yet verified."""
    _, artifact, digest, signature = conn.execute(SQL.query("model_artifact"), {"model_version": version}).fetchone()
    return bytes(artifact), digest, signature


def verified_model(key: bytes, version: int, artifact: bytes, digest: str, signature: str | None,
                   threads: int | None = None) -> ChurnModel:
    """Verify the signature over (version, sha256) *before* unpickling, then unpickle."""
    signing.verify(key, version, artifact, digest, signature)
    for old, new in LEGACY_MODULES.items():
        sys.modules.setdefault(old, importlib.import_module(new))
    fitted = ChurnModel(joblib.load(io.BytesIO(artifact)))
    fitted.set_threads(threads)
    return fitted


def model_source(conn: psycopg.Connection, version: int) -> str:
    """The source a model version was trained on (``telecom`` for the built-in layout)."""
    return _status(conn, version)[1]


def champion_version(conn: psycopg.Connection, source: str = TELECOM, kind: str = "churn") -> int | None:
    row = conn.execute(SQL.query("champion_version"), {"source": source, "kind": kind}).fetchone()
    return int(row[0]) if row else None


def baseline(conn: psycopg.Connection, version: int) -> dict:
    """The training distribution of each input column of ``version`` (for drift counts)."""
    return conn.execute(SQL.query("model_baseline"), {"model_version": version}).fetchone()[0]


def record_decision(conn: psycopg.Connection, version: int, decision: dict) -> None:
    """Store a champion/challenger comparison with the candidate."""
    conn.execute(SQL.query("record_training_decision"), {"decision": json.dumps(decision), "model_version": version})


def reject(conn: psycopg.Connection, version: int) -> None:
    """A candidate that lost its comparison: it can never be promoted."""
    conn.execute(SQL.query("set_model_status"), {"status": "rejected", "model_version": version})


def list_models(conn: psycopg.Connection) -> list[ModelSummary]:
    rows = conn.execute(SQL.query("list_models")).fetchall()
    return [ModelSummary(r[0], r[1], r[2].isoformat(), r[3].isoformat() if r[3] else None, *r[4:]) for r in rows]


def show(conn: psycopg.Connection, version: int) -> dict:
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        row = cur.execute(SQL.query("show_model"), {"model_version": version}).fetchone()
    if not row:
        raise ChurnDBError(f"there is no model version {version}")
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}


def promote(conn: psycopg.Connection, version: int, reason: str, details: dict | None = None) -> dict:
    """Make ``version`` the champion of its source and kind (call inside a transaction)."""
    conn.execute(SQL.query("lock_models"))
    status = _status(conn, version)
    if status[0] == "champion":
        raise ChurnDBError(f"model {version} is already the champion")
    if status[0] == "rejected":
        raise ChurnDBError(f"model {version} was rejected when validated; train a new candidate instead")
    current = conn.execute(SQL.query("champion_version"), {"source": status[1], "kind": status[2]}).fetchone()
    who = actor()
    # The deployment row first: the database crowns a model only with one (migration 0004).
    deployment_id, at = conn.execute(SQL.query("record_deployment"), {
        "action": "promote", "from_version": current[0] if current else None, "to_version": version,
        "reason": reason, "actor": who, "details": json.dumps(details or {}),
    }).fetchone()
    if current:
        conn.execute(SQL.query("set_model_status"), {"status": "retired", "model_version": current[0]})
    conn.execute(SQL.query("crown_model"), {"model_version": version, "actor": who})
    return {"model_version": version, "source": status[1], "kind": status[2], "previous_champion": current[0] if current else None,
            "deployment_id": deployment_id, "deployed_at": at.isoformat(), "status": "champion"}


def rollback(conn: psycopg.Connection, reason: str = "rollback", source: str = TELECOM) -> dict:
    """Restore the champion that ``source``'s champion replaced (call inside a transaction)."""
    conn.execute(SQL.query("lock_models"))
    current = conn.execute(SQL.query("champion_version"), {"source": source, "kind": "churn"}).fetchone()
    if not current:
        raise ChurnDBError("there is no champion to roll back" + ("" if source == TELECOM else f" for source {source}"))
    previous = conn.execute(SQL.query("previous_champion"), {"current": current[0]}).fetchone()
    if not previous:
        raise ChurnDBError(f"model {current[0]} has no previous champion to roll back to")
    who = actor()
    deployment_id, at = conn.execute(SQL.query("record_deployment"), {
        "action": "rollback", "from_version": current[0], "to_version": previous[0],
        "reason": reason, "actor": who, "details": "{}",
    }).fetchone()
    conn.execute(SQL.query("set_model_status"), {"status": "retired", "model_version": current[0]})
    conn.execute(SQL.query("crown_model"), {"model_version": previous[0], "actor": who})
    return {"model_version": previous[0], "rolled_back": current[0], "deployment_id": deployment_id,
            "deployed_at": at.isoformat(), "status": "champion"}


def champion_at(conn: psycopg.Connection, at, source: str = TELECOM) -> int | None:
    row = conn.execute(SQL.query("champion_at"), {"at": at, "source": source}).fetchone()
    return row[0] if row else None
