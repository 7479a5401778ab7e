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

    def get(self, section: str, key: str, kind: type, default: Any = None, minimum: float | None = None) -> Any:
        """``[section] key`` of the config file as ``kind`` (int, float or str), else ``default``;
        a value of another type (or below ``minimum``) is a ConfigError naming the key."""
        value = self.section(section).get(key)
        if value is None:
            return default
        return checked(f"config [{section}] {key}", value, kind, minimum)


_KIND_NAMES = {int: "a whole number", float: "a number", str: "text", bool: "true or false"}


def checked(name: str, value: Any, kind: type, minimum: float | None = None) -> Any:
    """``value`` if it is of ``kind`` (a whole number also counts as a number), else a one-line ConfigError."""
    if kind is bool:
        ok = isinstance(value, bool)
    else:
        ok = (not isinstance(value, bool)) and (isinstance(value, kind) or (kind is float and isinstance(value, int)))
    if not ok:
        raise ConfigError(f"{name} = {value!r} is not {_KIND_NAMES[kind]}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} = {value!r} is below {minimum:g}")
    return float(value) if kind is float else value


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
        home = Path(checked("config home", data["home"], str))
    url = env.get("CHURNDB_DATABASE_URL") or (checked("config database_url", data["database_url"], str)
                                              if data.get("database_url") is not None else None) or None
    key = env.get("CHURNDB_SIGNING_KEY") or None
    sections = {k: v for k, v in data.items() if isinstance(v, dict)}
    return Settings(database_url=url, home=home, signing_key=key, sections=sections)
