"""Dates given on the command line or in file names: strict ISO ``YYYY-MM-DD``, and data never dated
in the future.

``date.fromisoformat`` alone also takes week dates (``2026W49``) and compact forms (``20261201``);
an operator who typed one of those meant something else, so only the plain form is accepted.

A snapshot dated ahead would win as "the latest" from then on, and an outcome feed dated ahead would
count customers as not churned before their window has passed: data may be dated at most
``CHURNDB_MAX_FUTURE_DAYS`` (default 1, for operators east of UTC) after today, UTC.
"""

from __future__ import annotations

import datetime as dt
import os
import re

from .errors import ConfigError, InputError

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_date(text: str, what: str = "--as-of") -> dt.date:
    """A date as YYYY-MM-DD; InputError (one line) otherwise."""
    if ISO_DATE.match(text.strip()):
        try:
            return dt.date.fromisoformat(text.strip())
        except ValueError:
            pass
    raise InputError(f"{what} {text!r} is not a date (use YYYY-MM-DD)")


def today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def not_in_the_future(value: dt.date, what: str) -> dt.date:
    """``value`` if it is at most CHURNDB_MAX_FUTURE_DAYS after today (UTC); InputError otherwise."""
    text = os.environ.get("CHURNDB_MAX_FUTURE_DAYS", "1").strip()
    if not text.isdigit():
        raise ConfigError(f"CHURNDB_MAX_FUTURE_DAYS={text!r} is not a whole number of days")
    if value > today() + dt.timedelta(days=int(text)):
        raise InputError(f"{what} {value} is in the future (today is {today()}, UTC): data cannot be as of a "
                         "later date")
    return value
