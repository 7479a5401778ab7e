"""HMAC-SHA256 signatures for model artifacts.

The key is ``CHURNDB_SIGNING_KEY`` or, if unset, a random key kept in
``CHURNDB_HOME/signing.key`` (created with mode 0600).  The key never goes to
the database, a log or any output.  A signature covers the model version and
the artifact's sha256, so an artifact copied onto another version's row is
refused just like altered bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from ..base.config import Settings
from ..base.errors import ArtifactError, ConfigError

KEY_FILE = "signing.key"


def signing_key(settings: Settings) -> bytes:
    if settings.signing_key:
        return settings.signing_key.encode("utf-8")
    path = Path(settings.home) / KEY_FILE
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        return path.read_text().strip().encode("utf-8")
    except FileExistsError:  # another process created it first
        return path.read_text().strip().encode("utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot create or read the signing key file {path} ({exc.strerror}); "
                          "set CHURNDB_SIGNING_KEY or make CHURNDB_HOME writable") from None


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _message(model_version: int, digest: str) -> bytes:
    return f"churndb-model-artifact:v1:{model_version}:{digest}".encode()


def sign(key: bytes, model_version: int, artifact: bytes) -> tuple[str, str]:
    digest = sha256(artifact)
    return digest, hmac.new(key, _message(model_version, digest), hashlib.sha256).hexdigest()


def verify(key: bytes, model_version: int, artifact: bytes, stored_sha256: str, signature: str | None) -> None:
    """Raise ArtifactError unless the bytes are exactly what was signed for this version."""
    if not signature:
        raise ArtifactError(f"model {model_version} has no signature; refusing to load it")
    digest = sha256(artifact)
    if not hmac.compare_digest(digest, stored_sha256 or ""):
        raise ArtifactError(f"model {model_version}'s artifact does not match its recorded sha256 "
                            "(the bytes were altered); refusing to load it")
    expected = hmac.new(key, _message(model_version, digest), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise ArtifactError(f"model {model_version}'s artifact signature is not valid (altered, copied from "
                            "another version, or signed with another key); refusing to load it")
