"""Named SQL statements, one ``.sql`` file per module that runs SQL.

The module ``churndb/<package>/<module>.py`` (or ``jobs/<module>.py``) runs only the statements of
``sql/queries/<package>/<module>.sql``; it asks for them by name::

    SQL = statements(__name__)
    conn.execute(SQL.query("champion_version"))

Each file holds statements introduced by a header line ``-- name: statement_name``.  Statements that
need identifiers chosen at run time (a table named on the command line) use ``{placeholders}`` that
are filled only with ``psycopg.sql`` objects via :meth:`Statements.compose`.

``sql/`` sits at the top of the repository and is installed as the package data ``churndb.sql``
(see ``pyproject.toml``), so a checkout and an installed wheel read the same files the same way.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from psycopg import sql

_HEADER = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*-*\s*$", re.MULTILINE)


def _root():
    return resources.files("churndb.sql")


def parse(text: str, origin: str = "<text>") -> dict[str, str]:
    """Split a file into {name: statement}; text before the first header is ignored."""
    parts = _HEADER.split(text)
    out: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2]):
        if name in out:
            raise ValueError(f"duplicate SQL statement name {name!r} in {origin}")
        out[name] = body.strip().rstrip(";").strip()
    return out


def file_for(module: str) -> str:
    """``churndb.store.registry`` -> ``store/registry.sql``; ``jobs.runner`` -> ``jobs/runner.sql``."""
    parts = module.split(".")
    if parts[0] == "churndb":
        parts = parts[1:]
    return "/".join(parts) + ".sql"


@lru_cache(maxsize=None)
def _load(relative: str) -> dict[str, str]:
    path = _root().joinpath("queries", *relative.split("/"))
    return parse(path.read_text(encoding="utf-8"), f"sql/queries/{relative}")


class Statements:
    """The statements one module may run: those of its own file."""

    def __init__(self, module: str):
        self.file = file_for(module)

    def names(self) -> set[str]:
        return set(_load(self.file))

    def query(self, name: str) -> str:
        """The statement called ``name``; KeyError names the file it is missing from."""
        try:
            return _load(self.file)[name]
        except KeyError:
            raise KeyError(f"no SQL statement named {name!r} in sql/queries/{self.file}") from None

    def compose(self, name: str, **identifiers: sql.Composable) -> sql.Composed:
        """Fill a statement's ``{placeholders}`` with driver-quoted identifiers / composables only."""
        for key, value in identifiers.items():
            if not isinstance(value, sql.Composable):
                raise TypeError(f"placeholder {key!r} must be a psycopg.sql object, not {type(value).__name__}")
        return sql.SQL(self.query(name)).format(**identifiers)


def statements(module: str) -> Statements:
    return Statements(module)


def query_files() -> dict[str, dict[str, str]]:
    """Every statement file: {"store/registry.sql": {name: text}}."""
    out = {}
    queries = _root().joinpath("queries")
    for entry in sorted(queries.iterdir(), key=lambda p: p.name):
        if entry.is_dir():
            for path in sorted(entry.iterdir(), key=lambda p: p.name):
                if path.name.endswith(".sql"):
                    out[f"{entry.name}/{path.name}"] = _load(f"{entry.name}/{path.name}")
        elif entry.name.endswith(".sql"):  # an entry point's own file (churndb/doctor.py -> doctor.sql)
            out[entry.name] = _load(entry.name)
    return out


def view_names() -> list[str]:
    return sorted(p.name[:-4] for p in _root().joinpath("views").iterdir() if p.name.endswith(".sql"))


def view_definition(name: str) -> str:
    """Current definition of a view, from ``sql/views/<name>.sql``."""
    text = _root().joinpath("views", f"{name}.sql").read_text(encoding="utf-8")
    return text.strip().rstrip(";").strip()
