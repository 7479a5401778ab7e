"""``churndb outcomes load FILE``: what happened to customers after they were scored.

Columns: ``customer_id`` (required), ``churned`` (0/1, yes/no) and/or
``churned_on`` (YYYY-MM-DD; a date implies churned), and optionally
``campaign_id``, ``contacted_at``, ``offer_accepted`` for customers of a
retention campaign.  Every row is validated like any other input: bad rows are
quarantined with a reason, the batch reconciles, and the load is one
transaction.  ``--as-of`` is the date the feed covers (default today).

``--source NAME``: the feed of a registered source, keyed by that source's key column as its files
write it (``customerID``); a key the source has never loaded is quarantined (no such customer).
Its labels are that source's own feed (``churn_outcomes.source = 'feed:NAME'``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import psycopg

from ..base.dates import not_in_the_future, today
from ..base.errors import InputError
from ..store import db, sources
from ..store.copy import copy_in
from ..store.sqlfiles import statements
from .batch import IngestResult, load_batch
from .checks import INT64_MAX, Checker
from .csvfile import read_csv

SQL = statements(__name__)

TABLE = "churn_outcomes"


def _dates(check: Checker, name: str, kind: str) -> pd.Series:
    if name not in check.frame:
        return pd.Series([pd.NaT] * len(check.frame), index=check.frame.index)
    raw = check.frame[name]
    parsed = pd.to_datetime(raw.where(raw != ""), errors="coerce", utc=(kind == "timestamp"), format="mixed")
    check.reject_value((parsed.isna() & (raw != "")).to_numpy(), name, f"is not a {kind} (YYYY-MM-DD)")
    return parsed


def _source_ids(url: str, check: Checker, layout: sources.Source) -> tuple[pd.Series, str]:
    """churndb's customer ids for a source's keys as written; unknown keys are rejected."""
    key = layout.key_header if layout.key_header in check.header else "customer_id"
    raw = check.frame[key]
    check.reject((raw == "").to_numpy(), f"{key} is empty")
    keys = raw.where(raw != "")
    if layout.key_type == "bigint":
        number = check.parse_number(key, integer=True, limit=INT64_MAX)
        keys = number.map(lambda v: str(int(v)), na_action="ignore")
    with db.connect(url) as conn:
        known = dict(conn.execute(SQL.query("source_customer_ids"),
                                  {"source": layout.name, "keys": list(keys.dropna().unique())}).fetchall())
    ids = keys.map(known)
    check.reject((ids.isna() & keys.notna()).to_numpy(), f"{key} is not a customer of source {layout.name}")
    return ids.astype(float), key


def load_outcomes(url: str, path: Path, as_of: dt.date | None = None, source: str | None = None) -> IngestResult:
    as_of = not_in_the_future(as_of, "the feed's as-of date") if as_of else today()
    layout = None
    if source not in (None, sources.TELECOM):
        with db.connect(url) as conn:
            layout = sources.require(conn, source)
    key = layout.key_header if layout and layout.key_header else "customer_id"
    csv_file = read_csv(Path(path), required=(() if layout else ("customer_id",)),
                        delimiter="auto" if layout else ",")
    if layout is not None and layout.row_ids:
        raise InputError(f"source {layout.name} is keyed by row numbers: outcomes cannot name its customers")
    if layout is not None and key not in csv_file.header and "customer_id" not in csv_file.header:
        raise InputError(f"{path} needs the key column {key} of source {layout.name}")
    if "churned" not in csv_file.header and "churned_on" not in csv_file.header:
        raise InputError(f"{path} needs a churned or churned_on column")
    check = Checker(csv_file)
    if layout is None:
        ids = check.parse_number("customer_id", low=1, integer=True, required=True, limit=INT64_MAX)
    else:
        ids, key = _source_ids(url, check, layout)
    churned_on = _dates(check, "churned_on", "date")
    if "churned" in check.header:
        flag = check.parse_flag("churned", required="churned_on" not in check.header)
        churned = (flag == 1) | churned_on.notna()
    else:
        churned = churned_on.notna()
    future = (churned_on.dt.date > as_of).fillna(False).to_numpy() if churned_on.notna().any() else None
    if future is not None:
        check.reject(future, f"churned_on is after the feed's as-of date {as_of}")
    missing_date = (churned & churned_on.isna()).to_numpy()
    check.reject(missing_date, "churned without a churned_on date")
    contacted = _dates(check, "contacted_at", "timestamp")
    accepted = check.parse_flag("offer_accepted") if "offer_accepted" in check.header else pd.Series(float("nan"), index=ids.index)
    campaign = check.frame["campaign_id"].where(check.frame["campaign_id"] != "") if "campaign_id" in check.header \
        else pd.Series(None, index=ids.index, dtype=object)
    key_text = ids.map(lambda v: str(int(v)), na_action="ignore")
    check.reject_duplicates(key, key_text + "/" + campaign.fillna(""), check.line_numbers)
    bad = check.rejected
    frame = pd.DataFrame({
        "customer_id": ids.astype("Int64"), "churned": churned, "churned_on": churned_on.dt.strftime("%Y-%m-%d"),
        "campaign_id": campaign, "contacted_at": contacted.dt.strftime("%Y-%m-%dT%H:%M:%S%z") if contacted.notna().any() else None,
        "offer_accepted": accepted.map({1.0: True, 0.0: False}),
    })[~bad]

    def write(conn: psycopg.Connection, batch_id: int) -> None:
        conn.execute(SQL.query("create_outcome_staging"))
        copy_in(conn, SQL.query("copy_outcome_staging"), frame)
        conn.execute(SQL.query("upsert_feed_outcomes"), {"as_of": as_of, "batch_id": batch_id,
                                                         "feed": sources.feed_name(layout.name if layout else
                                                                                   sources.TELECOM)})
        conn.execute(SQL.query("upsert_intervention_outcomes"))

    return load_batch(url, csv_file, target=TABLE if layout is None else f"{TABLE}:{layout.name}", as_of=as_of,
                      rows_loaded=len(frame), rejections=check.rejections(key), labels=len(frame),
                      details={"kind": "outcome feed", "source": layout.name if layout else sources.TELECOM},
                      write=write)
