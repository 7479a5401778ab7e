"""Sources: registered customer layouts (``churndb.sources``).

A source names its key column (text or integer, or ``row_id`` for a training extract keyed by line),
an optional label, value (monthly revenue) and as-of column, the columns it excludes, and the header,
stored name, type and role of every column.  Its snapshots live in ``churndb_source.<name>``, one row
per customer and date; ``churndb.source_keys`` maps the operator's key as written to churndb's
``customer_id`` (negative, so it never meets the telecom layout's own positive ids).

The built-in telecom layout is the source ``telecom`` (columns in code, snapshots in
``customer_snapshots``).  Column names are accepted as the file header wrote them or as their stored
identifier (``column``); outputs show the header (``header``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from ..base.errors import InputError
from .sqlfiles import statements

SQL = statements(__name__)
TELECOM = "telecom"
SOURCE_SCHEMA = "churndb_source"
NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Columns every source table has; an operator's column of the same name is stored as <name>_2.
RESERVED = ("customer_id", "as_of_date", "customer_key", "batch_id")
ROLES = ("key", "label", "value", "as_of", "feature", "identifier", "excluded")


def feed_name(source: str) -> str:
    """``churn_outcomes.source`` of a source's outcome feed (the telecom layout's is plain 'feed')."""
    return "feed" if source == TELECOM else f"feed:{source}"


def source_name(text: str) -> str:
    """A valid source name, or InputError (a name is never rewritten)."""
    if not NAME.match(text or ""):
        raise InputError(f"source {text!r} is not a valid name: use lower-case letters, digits and _ "
                         "(starting with a letter or _, at most 63 characters)")
    return text


@dataclass(frozen=True)
class Column:
    header: str      # as the operator's file wrote it
    column: str      # stored identifier
    type: str        # bigint | double precision | boolean | text | date
    role: str        # one of ROLES

    def as_json(self) -> dict:
        return {"header": self.header, "column": self.column, "type": self.type, "role": self.role}


@dataclass(frozen=True)
class Source:
    name: str
    key_column: str | None
    key_header: str | None
    key_type: str
    label_column: str | None = None
    value_column: str | None = None
    as_of_column: str | None = None
    excluded: tuple[str, ...] = ()
    columns: tuple[Column, ...] = ()
    row_ids: bool = False
    builtin: bool = False
    layout_version: int = 1
    extra: dict = field(default_factory=dict)

    @property
    def is_telecom(self) -> bool:
        return self.builtin and self.name == TELECOM

    @property
    def table(self) -> sql.Identifier:
        """Where the source's snapshots are (an identifier, never text from a user)."""
        if self.is_telecom:
            return sql.Identifier("churndb", "customer_snapshots")
        return sql.Identifier(SOURCE_SCHEMA, self.name)

    @property
    def qualified(self) -> str:
        return "churndb.customer_snapshots" if self.is_telecom else f"{SOURCE_SCHEMA}.{self.name}"

    def stored(self, name: str | None, what: str = "column") -> str | None:
        """A column given as written in the header or as its stored name -> the stored name."""
        if name is None or self.is_telecom:
            return name
        for c in self.columns:
            if name in (c.header, c.column):
                return c.column
        for c in self.columns:
            if name.strip().lower() in (c.header.strip().lower(), c.column):
                return c.column
        known = ", ".join(c.header for c in self.columns[:12])
        raise InputError(f"source {self.name} has no {what} {name!r} (columns: {known})")

    def header(self, column: str) -> str:
        """The header the operator wrote for a stored column name (the name itself if unknown)."""
        for c in self.columns:
            if c.column == column:
                return c.header
        return column

    def with_role(self, *roles: str) -> list[Column]:
        return [c for c in self.columns if c.role in roles]

    @property
    def text_columns(self) -> list[str]:
        """Columns read back as text whatever they hold (the key and categories: "01" stays "01")."""
        if self.is_telecom:
            return []
        return ["customer_key"] + [c.column for c in self.columns if c.type in ("text", "boolean")
                                   and c.role not in ("key", "as_of", "excluded")]

    def describe(self) -> dict:
        value = self.header(self.value_column) if self.value_column else None
        return {"source": self.name, "builtin": self.builtin, "key_column": self.key_header,
                "key_type": self.key_type, "row_ids": self.row_ids,
                "label_column": self.header(self.label_column) if self.label_column else None,
                "value_column": value, "value_note": None if value else "no value column configured",
                "as_of_column": self.header(self.as_of_column) if self.as_of_column else None,
                "excluded": list(self.excluded), "layout_version": self.layout_version,
                "table": self.qualified, "columns": [c.as_json() for c in self.columns]}


# The built-in layout as a Source (its registered row says the same; its columns live in model.telecom).
BUILTIN_TELECOM = Source(TELECOM, "customer_id", "customer_id", "bigint", label_column="is_churn",
                         value_column="monthly_charges", builtin=True)


def get(conn: psycopg.Connection, name: str) -> Source | None:
    row = conn.execute(SQL.query("get_source"), {"source": name}).fetchone()
    if not row:
        return None
    (name, key_column, key_header, key_type, label, value, as_of, excluded, columns, row_ids, builtin,
     layout_version) = row
    return Source(name, key_column, key_header, key_type, label, value, as_of, tuple(excluded or ()),
                  tuple(Column(**c) for c in columns or ()), row_ids, builtin, layout_version)


def require(conn: psycopg.Connection, name: str) -> Source:
    found = get(conn, source_name(name))
    if found is None:
        known = ", ".join(list_names(conn))
        raise InputError(f"there is no source {name!r} (sources: {known}); "
                         "create it with `churndb ingest FILE --source NAME --id-column C`")
    return found


def list_names(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute(SQL.query("list_sources")).fetchall()]


def lock(conn: psycopg.Connection, name: str) -> None:
    conn.execute(SQL.query("lock_source"), {"source": name})


def register(conn: psycopg.Connection, source: Source) -> None:
    """Record a new source and create its snapshot table (inside the caller's transaction)."""
    conn.execute(SQL.query("insert_source"), {
        "source": source.name, "key_column": source.key_column, "key_header": source.key_header,
        "key_type": source.key_type, "label_column": source.label_column, "value_column": source.value_column,
        "as_of_column": source.as_of_column, "excluded": list(source.excluded),
        "columns": json.dumps([c.as_json() for c in source.columns]), "row_ids": source.row_ids})
    stored = [c for c in source.columns if c.role not in ("key", "as_of", "excluded")]
    columns = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c.column), sql.SQL(SQL_TYPES[c.type]))
                                 for c in stored)
    table = sql.Identifier(source.name)
    conn.execute(SQL.compose("create_source_table", table=table, columns=columns))
    conn.execute(SQL.compose("index_source_table", table=table))


def change_layout(conn: psycopg.Connection, source: Source, columns: list[Column]) -> int:
    """Record an accepted layout change: new columns are added to the snapshot table (earlier snapshots
    hold NULL there); returns the new layout version."""
    known = {c.column for c in source.columns}
    for c in columns:
        if c.column not in known and c.role not in ("key", "as_of", "excluded"):
            conn.execute(SQL.compose("add_source_column", table=sql.Identifier(source.name),
                                     column=sql.Identifier(c.column), type=sql.SQL(SQL_TYPES[c.type])))
    merged = list(columns) + [c for c in source.columns if c.column not in {x.column for x in columns}]
    current = json.dumps([c.as_json() for c in merged])
    version = conn.execute(SQL.query("change_layout"), {"source": source.name, "columns": current}).fetchone()[0]
    conn.execute(SQL.query("record_layout_change"), {
        "source": source.name, "layout_version": version,
        "previous": json.dumps([c.as_json() for c in source.columns]), "current": current})
    return version


# The only type names that reach SQL: a fixed vocabulary, never text from a file.
SQL_TYPES = {"bigint": "bigint", "double precision": "double precision", "boolean": "boolean", "text": "text",
             "date": "date"}
