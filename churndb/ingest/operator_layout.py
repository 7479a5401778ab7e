"""Load an operator's own customer file as a snapshot of a registered source.

The first file of a source registers its layout (``store.sources``): the header as written, a stored
identifier per column, a type inferred from the values (integer, decimal, yes/no, text; ``--decimal ,``
reads 1.234,5) and a role (key, label, value, as-of, feature, identifier, excluded).  Every later file
of the source is checked against that layout before anything is written: a new or missing column or a
changed type is one line and nothing loaded, unless the change is accepted explicitly
(``--accept-layout-change``, recorded in ``source_layout_changes``; a changed type never is).

Each load is the snapshot of one date (``--as-of``, or each row's own date in ``--as-of-column``):
one row per customer and date in ``churndb_source.<name>``.  Values that do not fit their column's
type, rows without a key and keys seen twice are quarantined with their line and raw text.  A file
without a key column loads with ``--row-ids``: each record is keyed by the file's sha256 and its line
(stable, recorded as such) — fit for training and evaluation, never for a CRM.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from ..base import progress
from ..base.dates import ISO_DATE, not_in_the_future, today
from ..base.errors import InputError
from ..base.text import column_identifier
from ..model.features import looks_like_identifier, looks_like_row_number
from ..store import db, sources
from ..store.sources import Column, Source
from ..store.sqlfiles import statements
from .batch import ChunkWriter, IngestResult, Staged, load_staged, quarantine_duplicates
from .checks import INT64_MAX, Checker, numeric_text
from .csvfile import AUTO, CsvFile, CsvStream, open_csv
from .snapshot import CHUNK_ROWS
from .table import LABEL_FALSE, LABEL_TRUE, TypeEvidence

SQL = statements(__name__)
INTEGER_KEY = r"0|-?[1-9][0-9]{0,17}"  # integers whose text is their canonical form (and fits a bigint)
# Types a later file may show for a registered column without it being a change of type.
COMPATIBLE = {"double precision": {"double precision", "bigint"}, "bigint": {"bigint"},
              "boolean": {"boolean"}, "text": {"text", "bigint", "double precision", "boolean"}, "date": {"date"}}


def _header_for(header: list[str], name: str | None, option: str) -> str | None:
    """The file's header cell a command-line column name means (as written, or as its identifier)."""
    if name is None:
        return None
    if name in header:
        return name
    matches = [h for h in header if column_identifier(h) == column_identifier(name)]
    if len(matches) == 1:
        return matches[0]
    raise InputError(f"{option} {name!r} is not a column of this file (columns: {', '.join(header[:12])}"
                     f"{', ...' if len(header) > 12 else ''})")


def _stored_names(header: list[str]) -> dict[str, str]:
    """Header cell -> stored identifier: unique, never one of the source table's own columns."""
    taken = {r: 1 for r in sources.RESERVED}
    out = {}
    for h in header:
        name = column_identifier(h)
        while name in taken:  # the suffix always fits the 63 characters of an identifier
            taken[name] += 1
            name = f"{name[:56]}_{taken[name]}"
        taken.setdefault(name, 1)
        out[h] = name
    return out


@dataclass
class FileProfile:
    """One streamed pass over a file before anything is written: every column's type evidence over
    all of its values, whether every key is a canonical integer, and the first chunk (for roles that
    need a column's distinct values)."""
    sample: Checker
    types: dict[str, TypeEvidence]
    keys_seen: bool
    integer_key: bool          # every key present reads back exactly as an integer ("0012" does not)
    records: int


def _profile(stream: CsvStream, decimal: str, key_header: str | None) -> FileProfile:
    sample, keys_seen, integer_key, records = None, False, True, 0
    types = {h: TypeEvidence() for h in stream.header}
    for chunk in stream.chunks(CHUNK_ROWS):
        check = Checker(CsvFile(stream.path, stream.sha256, stream.header, chunk, stream.delimiter), decimal=decimal)
        sample = sample or check
        records += len(chunk)
        for h in stream.header:
            types[h].add(check.frame[h], decimal)
        if key_header in check.frame:
            present = check.frame[key_header][check.frame[key_header] != ""]
            keys_seen = keys_seen or len(present) > 0
            integer_key = integer_key and bool(present.str.fullmatch(INTEGER_KEY).all())
    return FileProfile(sample, types, keys_seen, integer_key, records)


def plan_layout(name: str, profile: "FileProfile", header: list[str], *, key: str | None, label: str | None,
                value: str | None, as_of_column: str | None, exclude: list[str], decimal: str,
                row_ids: bool) -> Source:
    """A new source's layout from its first file: types from every value of the file, roles that
    need a column's distinct values (identifiers) from its first chunk."""
    stored = _stored_names(header)
    check = profile.sample
    columns = []
    for h in header:
        raw = check.frame[h]
        if h == key:  # an integer key only when every key reads back exactly as written ("0012" stays text)
            kind = "bigint" if profile.keys_seen and profile.integer_key else "text"
            role = "key"
        elif h == label:
            kind, role = "boolean", "label"
        elif h == as_of_column:
            kind, role = "date", "as_of"
        elif h in exclude:
            kind, role = "text", "excluded"
        else:
            kind = profile.types[h].type
            role = "feature"
            if h == value:
                if kind not in ("bigint", "double precision"):
                    raise InputError(f"--value-column {h!r} is not numeric in this file (it is the monthly "
                                     "revenue used for revenue at risk)")
                kind, role = "double precision", "value"
            elif kind == "text" and looks_like_identifier(raw.where(raw != "")):
                role = "identifier"
            elif kind == "bigint" and looks_like_row_number(numeric_text(raw[raw != ""], decimal)):
                role = "identifier"
        columns.append(Column(h, stored[h], kind, role))
    if not any(c.role in ("feature", "value") for c in columns):
        raise InputError(f"source {name}: the file has no column to learn from besides its key, label and dates")
    key_type = "row_id" if row_ids else next(c.type for c in columns if c.role == "key")
    return Source(name, stored.get(key) if key else None, key, key_type,
                  label_column=stored.get(label) if label else None,
                  value_column=stored.get(value) if value else None,
                  as_of_column=stored.get(as_of_column) if as_of_column else None,
                  excluded=tuple(stored[h] for h in exclude), columns=tuple(columns), row_ids=row_ids)


def check_layout(registered: Source, profile: "FileProfile", header: list[str], accept: bool
                 ) -> tuple[list[Column], bool]:
    """This file's columns under the registered layout; (columns, changed).  A new or missing column is
    refused unless ``accept``; a changed type always is."""
    by_header = {c.header: c for c in registered.columns}
    for h in header:  # a header written with other case or spacing is the same column
        if h not in by_header:
            same = [c for c in registered.columns if column_identifier(c.header) == column_identifier(h)]
            if len(same) == 1 and same[0].header not in header:
                by_header[h] = same[0]
    new = [h for h in header if h not in by_header]
    matched = {by_header[h].column for h in header if h in by_header}
    gone = [c for c in registered.columns if c.column not in matched and c.role != "excluded"]
    missing = [c.header for c in gone]
    required_missing = [c.header for c in gone if c.role in ("key", "label", "value", "as_of")]
    if required_missing:
        raise InputError(f"source {registered.name}: this file has no {', '.join(required_missing)} column "
                         f"(key, label, value and as-of columns cannot be dropped); nothing loaded")
    if (new or missing) and not accept:
        parts = ([f"new column(s) {', '.join(new)}"] if new else []) + \
                ([f"missing column(s) {', '.join(missing)}"] if missing else [])
        raise InputError(f"source {registered.name} (layout {registered.layout_version}): {'; '.join(parts)}; "
                         "nothing loaded (a changed layout: load again with --accept-layout-change)")
    stored = _stored_names(list(by_header[h].header for h in header if h in by_header) + new)
    taken = {c.column for c in registered.columns}
    columns = []
    for h in header:
        if h in by_header:
            c = by_header[h]
            if c.role == "key" and c.type == "bigint":
                if not profile.integer_key:
                    raise InputError(f"source {registered.name}: key column {h!r} was bigint and holds text in this "
                                     "file; nothing loaded (a changed type needs a new source)")
            if c.role in ("feature", "identifier", "value"):
                found = profile.types[h].type
                blank = profile.types[h].present == 0
                if not blank and found not in COMPATIBLE[c.type]:
                    raise InputError(f"source {registered.name}: column {h!r} was {c.type} and is {found} in this "
                                     "file; nothing loaded (a changed type needs a new source)")
            columns.append(Column(h, c.column, c.type, c.role))
        else:
            name = stored[h] if stored[h] not in taken else f"{stored[h]}_new"[:63]
            columns.append(Column(h, name, profile.types[h].type, "feature"))
    return columns, bool(new or missing)


def _new_layout(name: str, profile: "FileProfile", header: list[str], *, id_column, label_column, value_column,
                as_of_column, exclude, decimal, row_ids) -> Source:
    if row_ids == bool(id_column):
        raise InputError(f"source {name} is new: give its key column (--id-column) or, for a training extract "
                         "without one, --row-ids")
    given = {opt: _header_for(header, v, opt) for opt, v in (
        ("--id-column", id_column), ("--label-column", label_column), ("--value-column", value_column),
        ("--as-of-column", as_of_column))}
    excluded = [_header_for(header, e, "--exclude") for e in exclude]
    return plan_layout(name, profile, header, key=given["--id-column"], label=given["--label-column"],
                       value=given["--value-column"], as_of_column=given["--as-of-column"],
                       exclude=excluded, decimal=decimal, row_ids=row_ids)


def register_from_file(url: str, path: Path, name: str, *, id_column: str | None = None,
                       label_column: str | None = None, value_column: str | None = None,
                       as_of_column: str | None = None, exclude: list[str] = (), delimiter: str = AUTO,
                       decimal: str = ".", row_ids: bool = False) -> Source:
    """``sources add``: register a source's layout from a sample file, loading none of its rows."""
    name = sources.source_name(name)
    stream = open_csv(Path(path), delimiter=delimiter)
    profile = _profile(stream, decimal, _header_for(stream.header, id_column, "--id-column"))
    layout = _new_layout(name, profile, stream.header, id_column=id_column,
                         label_column=label_column, value_column=value_column, as_of_column=as_of_column,
                         exclude=exclude, decimal=decimal, row_ids=row_ids)
    try:
        with db.transaction(url) as conn:
            if sources.get(conn, name) is not None:
                raise InputError(f"source {name} already exists (`churndb sources show {name}`)")
            sources.register(conn, layout)
    except psycopg.Error as exc:
        raise db.as_churndb_error(exc) from None
    return layout


def ingest_source(url: str, path: Path, name: str, *, id_column: str | None = None, label_column: str | None = None,
                  value_column: str | None = None, as_of: dt.date | None = None, as_of_column: str | None = None,
                  exclude: list[str] = (), delimiter: str = AUTO, decimal: str = ".", row_ids: bool = False,
                  accept_layout_change: bool = False) -> IngestResult:
    """Load ``path`` as a snapshot of source ``name`` (registered by its first file)."""
    name = sources.source_name(name)
    if decimal not in (".", ","):
        raise InputError(f"--decimal {decimal!r} is not . or ,")
    if as_of and as_of_column:
        raise InputError("give --as-of (one date for the file) or --as-of-column (each row's date), not both")
    as_of = not_in_the_future(as_of, "the snapshot date") if as_of else (None if as_of_column else today())
    with db.connect(url) as conn:
        registered = sources.get(conn, name)
    stream = open_csv(Path(path), delimiter=delimiter)
    header = stream.header
    if registered is not None and registered.is_telecom:
        raise InputError("telecom is the built-in layout: load it with `churndb ingest FILE` (no --source)")
    if registered is None:  # a mistyped --id-column is one line before the file is read
        key_header = _header_for(header, id_column, "--id-column")
    else:
        try:
            key_header = _header_for(header, registered.key_header, "the key column")
        except InputError:  # a registered key missing from the file is check_layout's one line
            key_header = None
    profile = _profile(stream, decimal, key_header)  # the layout is decided before anything is written
    if registered is None:
        layout = _new_layout(name, profile, header, id_column=id_column, label_column=label_column,
                             value_column=value_column, as_of_column=as_of_column, exclude=exclude, decimal=decimal,
                             row_ids=row_ids)
        columns, changed = list(layout.columns), False
    else:
        _same_roles(registered, header, id_column=id_column, label_column=label_column, value_column=value_column,
                    as_of_column=as_of_column, row_ids=row_ids)
        layout = registered
        columns, changed = check_layout(registered, profile, header, accept_layout_change)
    stored_columns = [c for c in columns if c.role not in ("key", "as_of", "excluded")]
    label = next((c for c in columns if c.role == "label"), None)
    names = [sql.Identifier(c.column) for c in stored_columns]
    details = {"source": name, "layout_version": layout.layout_version + (1 if changed else 0) if registered else 1,
               "delimiter": stream.delimiter, "decimal": decimal, "row_ids": layout.row_ids,
               "columns": {c.header: {"column": c.column, "type": c.type, "role": c.role} for c in columns}}
    # A customer (and, with an as-of column, a date) on two records is found across every chunk in SQL.
    duplicate_key = "s.customer_key || ' on ' || to_char(s.as_of_date, 'YYYY-MM-DD')" if layout.as_of_column \
        else "s.customer_key"

    def stage(conn: psycopg.Connection) -> Staged:
        if registered is None:
            sources.register(conn, layout)
        else:
            sources.lock(conn, name)
            if changed:
                sources.change_layout(conn, registered, columns)
        conn.execute(SQL.compose("create_source_staging", table=sql.Identifier(name)))
        copy = SQL.compose("copy_source_staging", columns=sql.SQL(", ").join(
            [sql.Identifier("customer_key"), sql.Identifier("as_of_date")] + names + [sql.Identifier("line_number")]))
        rows_in = 0
        with progress.bar(None, f"ingest {stream.path.name}") as bar, ChunkWriter(conn) as writer:
            for chunk in stream.chunks(CHUNK_ROWS):
                check = Checker(CsvFile(stream.path, stream.sha256, header, chunk, stream.delimiter), decimal=decimal)
                frame, keys, dates, duplicates = _typed(check, columns, layout, stream.sha256, as_of)
                rejections = check.rejections(layout.key_header, duplicates) if layout.key_header else \
                    check.rejections(header[0])
                valid = ~check.rejected
                staged = frame.loc[valid, [c.column for c in stored_columns]].copy()
                for c in stored_columns:
                    if c.type == "bigint":
                        staged[c.column] = staged[c.column].astype("Int64")
                staged.insert(0, "customer_key", keys[valid].to_numpy())
                staged.insert(1, "as_of_date", dates[valid].to_numpy())
                staged["line_number"] = np.asarray(check.line_numbers)[valid]
                writer.write(rejections, copy, staged)
                rows_in += len(chunk)
                bar.update(len(chunk))
        quarantine_duplicates(conn, stream, "source_staging", key=duplicate_key, shown="s.customer_key",
                              name=layout.key_header or "row")
        loaded, labels = conn.execute(SQL.compose(
            "staged_counts", label=sql.Identifier(label.column) if label else sql.SQL("NULL"))).fetchone()
        return Staged(rows_in, loaded, labels)

    def publish(conn: psycopg.Connection, batch_id: int) -> None:
        conn.execute(SQL.query("assign_customer_ids"), {"source": name})
        conn.execute(SQL.query("attach_customer_ids"), {"source": name})
        update = sql.SQL(", ").join(sql.SQL("{} = excluded.{}").format(n, n) for n in names)
        conn.execute(SQL.compose("upsert_source_snapshots", table=sql.Identifier(name), columns=sql.SQL(", ").join(names),
                                 staged_columns=sql.SQL(", ").join(sql.SQL("s.") + n for n in names), update=update),
                     {"source": name, "batch_id": batch_id})

    return load_staged(url, source=stream.path, sha256=stream.sha256, target=f"{sources.SOURCE_SCHEMA}.{name}",
                       as_of=as_of, details=details, stage=stage, publish=publish)


def _same_roles(registered: Source, header: list[str], **given) -> None:
    """Options given again for a registered source must name what it has (as header or stored name)."""
    if given.pop("row_ids") and not registered.row_ids:
        raise InputError(f"source {registered.name} is keyed by {registered.key_header}; --row-ids does not apply")
    for option, attr in (("id_column", "key_column"), ("label_column", "label_column"),
                         ("value_column", "value_column"), ("as_of_column", "as_of_column")):
        value = given[option]
        if value is None:
            continue
        have = getattr(registered, attr)
        if have is None or registered.stored(value) != have:
            shown = registered.header(have) if have else "none"
            raise InputError(f"source {registered.name} has --{option.replace('_', '-')} {shown}, not {value!r} "
                             "(a source's roles are fixed when it is created)")


def _typed(check: Checker, columns: list[Column], layout: Source, sha256: str, as_of: dt.date | None
           ) -> tuple[pd.DataFrame, pd.Series, pd.Series, pd.Series]:
    """The typed values of every stored column, the key as text, each row's snapshot date and the key
    duplicates are found by (with an as-of column: key and date); values that do not fit are recorded
    as rejections on ``check``."""
    typed = pd.DataFrame(index=check.frame.index)
    lines = pd.Series(check.line_numbers, index=check.frame.index)
    keys = pd.Series(None, index=check.frame.index, dtype=object)
    dates = pd.Series(as_of.isoformat() if as_of else None, index=check.frame.index, dtype=object)
    if layout.row_ids:
        keys = sha256[:12] + ":" + lines.astype(str)
    for c in columns:
        raw = check.frame[c.header]
        if c.role == "excluded":
            continue
        if c.role == "key":
            if c.type == "bigint":
                number = check.parse_number(c.header, integer=True, required=True, limit=INT64_MAX)
                keys = number.map(lambda v: str(int(v)), na_action="ignore")
            else:
                check.reject((raw == "").to_numpy(), f"{c.header} is empty")
                keys = raw.where(raw != "")
        elif c.role == "as_of":
            dates = _row_dates(check, c.header)
        elif c.role == "label":
            lowered = raw.str.lower()
            known = lowered.isin(LABEL_TRUE | LABEL_FALSE)
            check.reject_value(((~known) & (raw != "")).to_numpy(), c.header,
                               "is not a churn label (yes/no, 1/0, true/false, churned/stayed)")
            typed[c.column] = lowered.isin(LABEL_TRUE).where(known)
        elif c.type in ("bigint", "double precision"):
            typed[c.column] = check.parse_number(c.header, integer=c.type == "bigint",
                                                 limit=INT64_MAX if c.type == "bigint" else None)
        elif c.type == "boolean":
            lowered = raw.str.lower()
            known = lowered.isin(LABEL_TRUE | LABEL_FALSE)
            check.reject_value(((~known) & (raw != "")).to_numpy(), c.header, "is not yes/no (true/false, 1/0)")
            typed[c.column] = lowered.isin(LABEL_TRUE).where(known)
        else:
            typed[c.column] = raw.where(raw != "")
    # One row per customer and date: a key twice (on the same date, with an as-of column) is quarantined,
    # across the whole file, once every chunk is staged.
    both = keys if not layout.as_of_column else keys + " on " + dates.fillna("")
    return typed, keys, dates, both.where(keys.notna() & dates.notna())


def _row_dates(check: Checker, header: str) -> pd.Series:
    raw = check.frame[header]
    distinct = {}
    for text in raw.unique():
        if ISO_DATE.match(text):
            try:
                day = dt.date.fromisoformat(text)
                not_in_the_future(day, "")
                distinct[text] = day.isoformat()
            except (ValueError, InputError):
                pass
    out = raw.map(distinct)
    check.reject_value((out.isna() & (raw != "")).to_numpy(), header, "is not a date (YYYY-MM-DD), or is in the future")
    check.reject((raw == "").to_numpy(), f"{header} is empty")
    return out.where(out.notna(), None).astype(object)

