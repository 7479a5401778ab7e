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
import tempfile
from pathlib import Path

from ..base.config import Settings
from ..base.errors import ArtifactError, ConfigError

KEY_FILE = "signing.key"


MIN_KEY_BYTES = 32  # HMAC-SHA256: a key shorter than the hash's output weakens it


def signing_key(settings: Settings) -> bytes:
    """The HMAC key: ``CHURNDB_SIGNING_KEY``, else the key file (created on first use).  A key shorter
    than 32 bytes, or an empty key file, is refused: a signature made with it proves nothing."""
    if settings.signing_key is not None:
        key = settings.signing_key.encode("utf-8")
        if len(key) < MIN_KEY_BYTES:
            raise ConfigError(f"CHURNDB_SIGNING_KEY holds {len(key)} bytes; a signing key needs at least "
                              f"{MIN_KEY_BYTES} (e.g. python -c 'import secrets; print(secrets.token_hex(32))')")
        return key
    path = Path(settings.home) / KEY_FILE
    try:
        if not path.exists():
            _create_key_file(path)
        key = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"cannot create or read the signing key file {path} ({exc.strerror}); "
                          "set CHURNDB_SIGNING_KEY or make CHURNDB_HOME writable") from None
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(f"the signing key file {path} holds {len(key)} bytes; a signing key needs at least "
                          f"{MIN_KEY_BYTES}: restore the file the models were signed with, or set CHURNDB_SIGNING_KEY")
    return key


def _create_key_file(path: Path) -> None:
    """Write a random key to a private temporary file, then link it into place: a reader never sees
    an empty or half-written key, and of two processes creating it at once, the first one's key wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".signing-", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process created it first: use theirs
    finally:
        os.unlink(temporary)


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
