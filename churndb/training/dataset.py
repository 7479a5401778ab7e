"""Training sets from the database.

Default source: ``customer_snapshots`` with point-in-time labels (see
``sql/queries/training/dataset.sql``).  ``--source REL`` trains from any table or view:
the name is looked up in the catalog and quoted by the driver, column types
come from the catalog (text/boolean -> categorical, numeric -> numeric).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import psycopg
from psycopg import sql

from ..base.errors import InputError
from ..base.text import column_identifier
from ..model import telecom
from ..model.features import looks_like_identifier
from ..store import db, sources
from ..store.copy import copy_out
from ..store.sqlfiles import statements
from .spec import LABEL, TrainingSet, TrainingSpec

SQL = statements(__name__)
SEARCH_SCHEMAS = [db.IMPORT_SCHEMA, db.SCHEMA, "public"]


def snapshot_date_range(url: str) -> tuple[dt.date | None, dt.date | None]:
    """The first and last snapshot dates loaded (None, None before any)."""
    with db.connect(url) as conn:
        return tuple(conn.execute(SQL.query("snapshot_date_range")).fetchone())


def load_snapshot_training_set(conn: psycopg.Connection, spec: TrainingSpec) -> TrainingSet:
    lo, hi = conn.execute(SQL.query("snapshot_date_range")).fetchone()
    if lo is None:
        raise InputError("no customer snapshots loaded yet: run `churndb ingest FILE` first")
    params = {"start": spec.start or lo, "end": spec.end or hi, "lead_days": spec.lead_days,
              "horizon_days": spec.horizon_days}
    rows = sql.SQL(SQL.query("snapshot_training_rows"))
    sampled_from = None
    if spec.sample is not None:
        # The sample is drawn in the database: only the sampled rows ever reach this process.
        frame = copy_out(conn, SQL.compose("copy_training_sample", rows=rows),
                         {**params, "sample": spec.sample, "seed": spec.seed})
        if not frame.empty:
            unlabelled, sampled_from = int(frame["unlabelled_rows"].iloc[0]), int(frame["labelled_rows"].iloc[0])
            frame = frame.drop(columns=["sample_rank", "class_rows", "labelled_rows", "unlabelled_rows"])
    else:
        frame = copy_out(conn, SQL.compose("copy_training_rows", rows=rows), params)
        if not frame.empty:
            unlabelled = int(frame[LABEL].isna().sum())
    if frame.empty:
        raise InputError(f"no labelled snapshots between {params['start']} and {params['end']}")
    frame = frame[frame[LABEL].notna()].drop(columns=["batch_id"])
    if frame.empty:
        raise InputError("no snapshot has a known outcome yet: load a training extract with is_churn, "
                         "or outcomes that cover the prediction window")
    frame[LABEL] = frame[LABEL].astype(int)
    return TrainingSet(frame, list(telecom.CATEGORICAL), list(telecom.NUMERIC), "customer_snapshots",
                       unlabelled, sorted(frame["as_of_date"].astype(str).unique()), sampled_from)


def _label_values(values: pd.Series) -> pd.Series:
    text = values.astype(str).str.strip().str.lower()
    mapping = {"1": 1, "0": 0, "1.0": 1, "0.0": 0, "true": 1, "false": 0, "t": 1, "f": 0, "yes": 1, "no": 0,
               "y": 1, "n": 0, "churned": 1, "stayed": 0, "active": 0}
    return text.map(mapping).where(values.notna())


def load_relation_training_set(conn: psycopg.Connection, spec: TrainingSpec) -> TrainingSet:
    if not spec.label_column:
        raise InputError("--source needs --label-column (the churn label of that table)")
    if spec.sample is not None:
        raise InputError("--sample draws from customer_snapshots; for --source, sample in the view itself")
    schema, _, name = spec.source.rpartition(".")
    if schema.startswith("pg_") or schema == "information_schema":
        raise InputError(f"no table or view named {spec.source!r}: system catalogs are not training sources")
    schemas = [schema] if schema else SEARCH_SCHEMAS
    found = conn.execute(SQL.query("find_relation"), {"name": name, "schemas": schemas}).fetchone()
    if not found:
        raise InputError(f"no table or view named {spec.source!r} (looked in {', '.join(schemas)})")
    oid, nsp, rel = found
    columns = conn.execute(SQL.query("relation_columns"), {"oid": oid}).fetchall()
    kinds = dict(columns)
    # Names as the operator wrote them in the file header (customerID, "Total day minutes") work too.
    for attr in ("id_column", "label_column"):
        needed = getattr(spec, attr)
        if needed not in kinds and column_identifier(needed) in kinds:
            setattr(spec, attr, column_identifier(needed))
        elif needed not in kinds:
            raise InputError(f"{nsp}.{rel} has no column {needed!r} (columns: {', '.join(list(kinds)[:12])})")
    categorical = [c for c, k in columns if k in ("S", "B") and c not in (spec.id_column, spec.label_column)]
    numeric = [c for c, k in columns if k == "N" and c not in (spec.id_column, spec.label_column)]
    if not categorical and not numeric:
        raise InputError(f"{nsp}.{rel} has no text, boolean or numeric columns to learn from")
    wanted = [spec.id_column, spec.label_column] + categorical + numeric
    statement = SQL.compose("copy_relation_columns",
                        columns=sql.SQL(", ").join(sql.Identifier(c) for c in wanted),
                        relation=sql.Identifier(nsp, rel))
    frame = copy_out(conn, statement)
    frame = frame.rename(columns={spec.label_column: LABEL})
    frame[LABEL] = _label_values(frame[LABEL])
    unlabelled = int(frame[LABEL].isna().sum())
    frame = frame[frame[LABEL].notna()].copy()
    frame[LABEL] = frame[LABEL].astype(int)
    for c in categorical:
        frame[c] = frame[c].astype("string")
    identifiers = [c for c in categorical if looks_like_identifier(frame[c])]
    if identifiers:
        frame = frame.drop(columns=identifiers)
        categorical = [c for c in categorical if c not in identifiers]
    if not categorical and not numeric:
        raise InputError(f"{nsp}.{rel} has only identifier-like columns ({', '.join(identifiers)}); nothing to learn from")
    return TrainingSet(frame, categorical, numeric, f"{nsp}.{rel}", unlabelled, [], identifiers=identifiers)


def source_features(source: sources.Source) -> tuple[list[str], list[str]]:
    """(categorical, numeric) stored columns a model of ``source`` learns from: features and the value
    column; never the key, label, dates, excluded or identifier-like columns."""
    usable = source.with_role("feature", "value")
    return ([c.column for c in usable if c.type in ("text", "boolean")],
            [c.column for c in usable if c.type in ("bigint", "double precision")])


def load_source_training_set(conn: psycopg.Connection, spec: TrainingSpec, source: sources.Source) -> TrainingSet:
    """Point in time, as for the telecom layout: each snapshot at date D with the label known for D (the
    file's own label column for D, else the source's outcome feed after D)."""
    if spec.sample is not None:
        raise InputError("--sample draws from customer_snapshots (the telecom layout)")
    lo, hi = conn.execute(SQL.compose("source_date_range", table=source.table)).fetchone()
    if lo is None:
        raise InputError(f"source {source.name} has no snapshots loaded yet")
    categorical, numeric = source_features(source)
    label = sql.SQL("s.") + sql.Identifier(source.label_column) if source.label_column else sql.SQL("NULL::boolean")
    statement = SQL.compose("copy_source_training_rows", table=source.table, label=label,
                            columns=sql.SQL(", ").join(sql.SQL("s.") + sql.Identifier(c) for c in categorical + numeric))
    frame = copy_out(conn, statement, {"start": spec.start or lo, "end": spec.end or hi, "lead_days": spec.lead_days,
                                       "horizon_days": spec.horizon_days, "feed": sources.feed_name(source.name)},
                     text_columns=["customer_key"] + categorical)
    if frame.empty:
        raise InputError(f"source {source.name} has no snapshots between {spec.start or lo} and {spec.end or hi}")
    unlabelled = int(frame[LABEL].isna().sum())
    frame = frame[frame[LABEL].notna()].copy()
    if frame.empty:
        raise InputError(f"source {source.name}: no snapshot has a known outcome yet (load a file with its label "
                         f"column, or `churndb outcomes load FILE --source {source.name}`)")
    frame[LABEL] = frame[LABEL].astype(int)
    for c in categorical:
        frame[c] = frame[c].astype("string")
    identifiers = [c for c in categorical if looks_like_identifier(frame[c])]
    frame = frame.drop(columns=identifiers)
    categorical = [c for c in categorical if c not in identifiers]
    if not categorical and not numeric:
        raise InputError(f"source {source.name} has only identifier-like columns; nothing to learn from")
    spec.id_column, spec.label_column = "customer_key", source.label_column
    return TrainingSet(frame, categorical, numeric, source.name, unlabelled,
                       sorted(frame["as_of_date"].astype(str).unique()), identifiers=identifiers)


def load_training_set(url: str, spec: TrainingSpec) -> TrainingSet:
    try:
        with db.connect(url) as conn:
            if spec.source in ("customer_snapshots", "churndb.customer_snapshots", sources.TELECOM):
                spec.source = "customer_snapshots"
                return load_snapshot_training_set(conn, spec)
            registered = sources.get(conn, spec.source) if sources.NAME.match(spec.source) else None
            if registered is not None:
                return load_source_training_set(conn, spec, registered)
            return load_relation_training_set(conn, spec)
    except psycopg.Error as exc:
        raise db.as_churndb_error(exc) from None
