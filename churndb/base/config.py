"""Configuration: environment variables first, then an optional TOML file.

``CHURNDB_DATABASE_URL``  libpq / SQLAlchemy URL of an existing PostgreSQL.
                          Unset: an embedded PostgreSQL under CHURNDB_HOME.
``CHURNDB_HOME``          local state directory (default ``./.churndb``).
``CHURNDB_SIGNING_KEY``   HMAC key for model artifacts (else a 0600 key file).
``CHURNDB_CONFIG``        path of a TOML file (default ``CHURNDB_HOME/churndb.toml``
                          if present, else ``./churndb.toml`` if present).

The TOML file may hold ``database_url`` and ``home`` at top level and
free-form sections (``[schedule]``, ``[monitor]``, ...) read by later modules.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    home: Path
    signing_key: str | None = field(default=None, repr=False)
    sections: dict[str, Any] = field(default_factory=dict, repr=False)

    def section(self, name: str) -> dict[str, Any]:
        value = self.sections.get(name, {})
        return value if isinstance(value, dict) else {}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Resolve settings from the environment and the optional TOML file."""
    env = dict(os.environ if env is None else env)
    home = Path(env.get("CHURNDB_HOME") or ".churndb")
    config_path = env.get("CHURNDB_CONFIG")
    data: dict[str, Any] = {}
    if config_path:
        data = _read_toml(Path(config_path))
    else:
        for candidate in (home / "churndb.toml", Path("churndb.toml")):
            if candidate.is_file():
                data = _read_toml(candidate)
                break
    if "home" in data and not env.get("CHURNDB_HOME"):
        home = Path(str(data["home"]))
    url = env.get("CHURNDB_DATABASE_URL") or data.get("database_url") or None
    key = env.get("CHURNDB_SIGNING_KEY") or None
    sections = {k: v for k, v in data.items() if isinstance(v, dict)}
    return Settings(database_url=url, home=home, signing_key=key, sections=sections)
