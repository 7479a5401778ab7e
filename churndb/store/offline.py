"""A model exported for offline use: ``churndb models export V --out DIR`` / ``ChurnScorer.from_files``.

DIR holds four files:

``artifact.joblib``  the model's bytes, exactly as stored in ``model_versions``
``manifest.json``    version, artifact sha256 and signature, feature names, hold-out metrics, training
                     window, library versions and the segment policy in force at export (so offline
                     scoring applies the same bands, costs and horizon as the database scorer)
``manifest.sig``     HMAC-SHA256 of the manifest's bytes with the signing key
``README.txt``       what the files are

Loading verifies the manifest's signature, then that the artifact's sha256 is the manifest's and its
signature is the registry's (version, sha256) signature, and only then unpickles: one changed byte
in any of them, a missing signature or another key is refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from pathlib import Path

import psycopg

from ..base.errors import ArtifactError, ChurnDBError
from ..model.bands import Band, Policy
from ..model.predictor import ChurnModel
from . import registry, signing
from .segment_policy import policy_in_force

ARTIFACT, MANIFEST, SIGNATURE = "artifact.joblib", "manifest.json", "manifest.sig"
FORMAT = "churndb-model-export:v1"


def _manifest_signature(key: bytes, manifest: bytes) -> str:
    return hmac.new(key, b"churndb-model-manifest:v1:" + manifest, hashlib.sha256).hexdigest()


def export(conn: psycopg.Connection, key: bytes, version: int, out: Path) -> dict:
    """Write model ``version`` (verified first) and its manifest into ``out``; returns the manifest."""
    artifact, digest, signature = registry.stored_artifact(conn, version)
    model = registry.verified_model(key, version, artifact, digest, signature, threads=1)
    info = registry.show(conn, version)
    policy = policy_in_force(conn)
    training = info.get("training") or {}
    manifest = {
        "format": FORMAT, "model_version": version, "status_at_export": info["status"],
        "artifact": ARTIFACT, "artifact_sha256": digest, "artifact_signature": signature,
        "feature_names": model.feature_names, "input_columns": model.input_columns,
        "metrics": {k: (info.get("metrics") or {}).get(k) for k in ("auc", "accuracy", "precision", "recall", "f1",
                                                                   "brier", "ece", "top_decile_lift")},
        "training_window": {"snapshot_dates": training.get("snapshot_dates"), "source": training.get("source"),
                            "rows_train": training.get("rows_train"), "rows_test": training.get("rows_test"),
                            "split": training.get("split")},
        "library_versions": info.get("library_versions"), "created_at": info.get("created_at"),
        "policy": dataclasses.asdict(policy),
    }
    text = json.dumps(manifest, indent=2, sort_keys=True, default=float).encode("utf-8")
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / ARTIFACT).write_bytes(artifact)
        (out / MANIFEST).write_bytes(text)
        (out / SIGNATURE).write_text(_manifest_signature(key, text) + "\n", encoding="ascii")
        (out / "README.txt").write_text(
            f"churndb model {version}, exported for offline scoring.\n"
            "Load with: from churndb import ChurnScorer; ChurnScorer.from_files(DIR, key=...)\n"
            "The manifest is signed (manifest.sig) and names the artifact's sha256 and signature; a changed "
            "byte in any file is refused.\n", encoding="utf-8")
    except OSError as exc:
        raise ChurnDBError(f"cannot write the export to {out}: {exc.strerror}") from None
    return manifest


def load(folder: Path, key: bytes) -> tuple[int, ChurnModel, str, Policy]:
    """(version, verified model, sha256, policy) from an export folder; ArtifactError if anything is off."""
    folder = Path(folder)
    try:
        text = (folder / MANIFEST).read_bytes()
        artifact = (folder / ARTIFACT).read_bytes()
    except OSError as exc:
        raise ArtifactError(f"{folder} is not a complete model export ({exc.strerror}: {exc.filename})") from None
    try:
        stated = (folder / SIGNATURE).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        raise ArtifactError(f"{folder} has no readable manifest signature; refusing to load it") from None
    if not hmac.compare_digest(_manifest_signature(key, text), stated):
        raise ArtifactError(f"{folder}/{MANIFEST} does not match its signature (altered, or signed with another "
                            "key); refusing to load it")
    manifest = json.loads(text)
    if manifest.get("format") != FORMAT:
        raise ArtifactError(f"{folder} is not a churndb model export ({manifest.get('format')!r})")
    version = int(manifest["model_version"])
    model = registry.verified_model(key, version, artifact, manifest["artifact_sha256"],
                                    manifest["artifact_signature"])
    raw = manifest["policy"]
    policy = Policy(**{**raw, "bands": tuple(Band(**b) for b in raw["bands"])})
    return version, model, manifest["artifact_sha256"], policy
