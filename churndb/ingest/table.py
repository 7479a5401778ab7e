"""Load any customer CSV (another operator's export) into its own typed table.

The table lives in schema ``churndb_import``.  Column names are normalised to
lower-case identifiers (the original names are kept in the batch's details);
column types are inferred from the data: a column whose non-blank values are
(almost) all numbers is numeric, all yes/no-like values boolean, else text.
Values that do not fit their column's type are quarantined with the row, as
are rows without an id, duplicated ids and unreadable labels.  Names reach SQL
only as ``psycopg.sql.Identifier``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from ..base.errors import InputError
from ..base.text import column_identifier
from ..store.copy import copy_in
from ..store.sqlfiles import statements
from .batch import IngestResult, load_batch
from .checks import FALSE_WORDS, INT64_MAX, TRUE_WORDS, Checker, read_numbers
from .csvfile import AUTO, read_csv

SQL = statements(__name__)

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# A column is numeric when at most this share of its non-blank values (or a single value)
# fails to parse as a number; those rows are then quarantined as "text in a numeric column".
NON_NUMERIC_TOLERANCE = 0.05
BOOLEAN_WORDS = TRUE_WORDS | FALSE_WORDS | {"churned", "stayed", "active"}
# Labels as exports write them: yes/no in several languages, 1.0/0.0 from a float column, and
# "True."/"False." with the trailing period of the classic telecom churn files.
LABEL_TRUE = TRUE_WORDS | {"churned", "1.0", "true.", "yes."}
LABEL_FALSE = FALSE_WORDS | {"stayed", "active", "0.0", "false.", "no."}


def table_name(text: str) -> str:
    """A valid import table name, or InputError (we refuse rather than rewrite a table name)."""
    if not IDENTIFIER.match(text or ""):
        raise InputError(
            f"--table {text!r} is not a valid table name: use lower-case letters, digits and _ "
            "(starting with a letter or _, at most 63 characters)")
    return text


@dataclass(frozen=True)
class ColumnPlan:
    source: str
    name: str
    sql_type: str  # bigint | double precision | boolean | text


@dataclass
class TypeEvidence:
    """What a column's values say about its type, added up chunk by chunk (a file need not be held
    whole to type it): the same rule as for all values at once."""
    present: int = 0
    boolean_words: int = 0
    zero_one: int = 0
    finite: int = 0
    whole: bool = True

    def add(self, values: pd.Series, decimal: str = ".") -> "TypeEvidence":
        present = values[values != ""]
        if present.empty:
            return self
        lowered = present.str.lower()
        self.present += len(present)
        self.boolean_words += int(lowered.isin(BOOLEAN_WORDS).sum())
        self.zero_one += int(lowered.isin({"0", "1"}).sum())
        numbers = read_numbers(present, decimal)
        finite = numbers[np.isfinite(numbers.to_numpy())]
        self.finite += len(finite)
        if len(finite):
            self.whole = self.whole and bool((finite == np.floor(finite)).all() and (finite.abs() < 2**62).all())
        return self

    @property
    def type(self) -> str:
        if not self.present:
            return "text"
        if self.boolean_words == self.present and self.zero_one != self.present:
            return "boolean"
        failures = self.present - self.finite
        if self.finite >= 2 and failures <= max(1, NON_NUMERIC_TOLERANCE * self.present):
            return "bigint" if self.whole else "double precision"
        return "text"


def infer_type(values: pd.Series, decimal: str = ".") -> str:
    return TypeEvidence().add(values, decimal).type


def plan_columns(header: list[str], frame: pd.DataFrame, id_column: str, label_column: str | None,
                 decimal: str = ".") -> list[ColumnPlan]:
    names: dict[str, int] = {}
    plans = []
    for source in header:
        name = column_identifier(source)
        if name in names:
            names[name] += 1
            name = f"{name}_{names[name]}"
        names.setdefault(name, 1)
        if source == id_column:
            sql_type = "text" if infer_type(frame[source]) == "text" else "bigint"
        elif source == label_column:
            sql_type = "boolean"
        else:
            sql_type = infer_type(frame[source], decimal)
        plans.append(ColumnPlan(source, name, sql_type))
    return plans


def ingest_table(url: str, path: Path, table: str, id_column: str | None, label_column: str | None = None, *,
                 delimiter: str = AUTO, decimal: str = ".", row_ids: bool = False) -> IngestResult:
    """Load any customer CSV into ``churndb_import.<table>``.  ``delimiter`` is detected unless given;
    ``decimal`` "," reads 1.234,5 as 1234.5; ``row_ids`` (no key column: a training extract) keys each
    row by its line number, recorded as such: fit for training and evaluation, not for a CRM."""
    table = table_name(table)
    if decimal not in (".", ","):
        raise InputError(f"--decimal {decimal!r} is not . or ,")
    if row_ids == bool(id_column):
        raise InputError("give the key column (--id-column) or, for a training extract without one, --row-ids")
    required = ((id_column,) if id_column else ()) + ((label_column,) if label_column else ())
    csv_file = read_csv(Path(path), required=required, delimiter=delimiter)
    check = Checker(csv_file, decimal=decimal)
    if row_ids:
        id_column = "row_id" if "row_id" not in csv_file.header else "churndb_row_id"
        check.frame.insert(0, id_column, [str(n) for n in check.line_numbers])
    plans = plan_columns([id_column] + csv_file.header if row_ids else csv_file.header, check.frame, id_column,
                         label_column, decimal)

    typed = pd.DataFrame(index=check.frame.index)
    for plan in plans:
        raw = check.frame[plan.source]
        if plan.source == id_column:
            if plan.sql_type == "bigint":
                typed[plan.name] = check.parse_number(plan.source, low=1, integer=True, required=True, limit=INT64_MAX)
            else:
                check.reject((raw == "").to_numpy(), f"{plan.source} is empty")
                typed[plan.name] = raw.where(raw != "")
        elif plan.source == label_column:
            lowered = raw.str.lower()
            known = lowered.isin(LABEL_TRUE | LABEL_FALSE)
            check.reject_value((~known).to_numpy(), plan.source, "is not a churn label (yes/no, 1/0, true/false)")
            typed[plan.name] = lowered.isin(LABEL_TRUE).where(known)
        elif plan.sql_type in ("bigint", "double precision"):
            typed[plan.name] = check.parse_number(plan.source, integer=plan.sql_type == "bigint")
        elif plan.sql_type == "boolean":
            lowered = raw.str.lower()
            typed[plan.name] = lowered.isin(LABEL_TRUE).where(raw != "")
        else:
            typed[plan.name] = raw.where(raw != "")
    id_name = next(p.name for p in plans if p.source == id_column)
    key_text = typed[id_name].map(lambda v: str(int(v)) if isinstance(v, float) else v, na_action="ignore")
    check.reject_duplicates(id_column, key_text, check.line_numbers)

    valid = typed.loc[~check.rejected].copy()
    for plan in plans:
        if plan.sql_type == "bigint":
            valid[plan.name] = valid[plan.name].astype("Int64")
    label_name = next((p.name for p in plans if p.source == label_column), None)
    labels = int(valid[label_name].notna().sum()) if label_name else 0
    details = {"columns": {p.source: {"column": p.name, "type": p.sql_type} for p in plans},
               "id_column": id_name, "label_column": label_name, "row_ids": row_ids,
               "delimiter": csv_file.delimiter, "decimal": decimal}
    target = f"churndb_import.{table}"

    def write(conn: psycopg.Connection, batch_id: int) -> None:
        _ensure_table(conn, table, plans, id_name)  # in the batch's transaction, after the sha256 look-up
        ident = sql.Identifier(table)
        cols = sql.SQL(", ").join(sql.Identifier(p.name) for p in plans)
        excluded = sql.SQL(", ").join(sql.SQL("excluded.") + sql.Identifier(p.name) for p in plans)
        conn.execute(SQL.compose("create_import_staging", table=ident))
        copy_in(conn, SQL.compose("copy_import_staging", columns=cols), valid)
        conn.execute(SQL.compose("upsert_import_rows", table=ident, columns=cols, excluded=excluded,
                                 key=sql.Identifier(id_name)))

    return load_batch(url, csv_file, target=target, as_of=None, rows_loaded=len(valid),
                      rejections=check.rejections(id_column), labels=labels, details=details,
                      write=write)


def _ensure_table(conn: psycopg.Connection, table: str, plans: list[ColumnPlan], id_name: str) -> None:
    existing = conn.execute(SQL.query("table_columns"), {"table": table}).fetchall()
    wanted = [(p.name, p.sql_type) for p in plans]
    if not existing:
        columns = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(p.name), sql.SQL(_SQL_TYPES[p.sql_type])) for p in plans)
        conn.execute(SQL.compose("create_import_table", table=sql.Identifier(table), columns=columns,
                             key=sql.Identifier(id_name)))
    elif [tuple(r) for r in existing] != wanted:
        raise InputError(
            f"churndb_import.{table} already exists with other columns or types; "
            "load this file into a new --table name")


# The only type names that reach SQL: a fixed vocabulary, never text from the file.
_SQL_TYPES = {"bigint": "bigint", "double precision": "double precision", "boolean": "boolean", "text": "text"}
