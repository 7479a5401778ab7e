"""Named SQL statements loaded from ``sql/``.

Each ``sql/queries/*.sql`` file holds statements introduced by a header line
``-- name: statement_name``.  Python asks for a statement by name and holds no
SQL text of its own.  Statements that need identifiers chosen at run time (a
table named on the command line) use ``{placeholders}`` that are filled only
with ``psycopg.sql.Identifier`` values via :func:`compose`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from psycopg import sql

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
_HEADER = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*-*\s*$", re.MULTILINE)


def parse(text: str, origin: str = "<text>") -> dict[str, str]:
    """Split a file into {name: statement}; text before the first header is ignored."""
    parts = _HEADER.split(text)
    out: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2]):
        if name in out:
            raise ValueError(f"duplicate SQL statement name {name!r} in {origin}")
        out[name] = body.strip().rstrip(";").strip()
    return out


@lru_cache(maxsize=1)
def all_queries() -> dict[str, str]:
    queries: dict[str, str] = {}
    for path in sorted((SQL_DIR / "queries").glob("*.sql")):
        for name, body in parse(path.read_text(encoding="utf-8"), str(path)).items():
            if name in queries:
                raise ValueError(f"SQL statement {name!r} defined twice (again in {path.name})")
            queries[name] = body
    return queries


def query(name: str) -> str:
    """The statement called ``name``; KeyError names the missing statement."""
    try:
        return all_queries()[name]
    except KeyError:
        raise KeyError(f"no SQL statement named {name!r} in {SQL_DIR / 'queries'}") from None


def compose(name: str, **identifiers: sql.Composable) -> sql.Composed:
    """Fill a statement's ``{placeholders}`` with driver-quoted identifiers / composables only."""
    for key, value in identifiers.items():
        if not isinstance(value, sql.Composable):
            raise TypeError(f"placeholder {key!r} must be a psycopg.sql object, not {type(value).__name__}")
    return sql.SQL(query(name)).format(**identifiers)


def view_definition(name: str) -> str:
    """Current definition of a view, from ``sql/views/<name>.sql``."""
    return (SQL_DIR / "views" / f"{name}.sql").read_text(encoding="utf-8").strip().rstrip(";").strip()
