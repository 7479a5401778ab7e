"""Dates given on the command line or in file names: strict ISO ``YYYY-MM-DD``.

``date.fromisoformat`` alone also takes week dates (``2026W49``) and compact forms (``20261201``);
an operator who typed one of those meant something else, so only the plain form is accepted.
"""

from __future__ import annotations

import datetime as dt
import re

from .errors import InputError

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_date(text: str, what: str = "--as-of") -> dt.date:
    """A date as YYYY-MM-DD; InputError (one line) otherwise."""
    if ISO_DATE.match(text.strip()):
        try:
            return dt.date.fromisoformat(text.strip())
        except ValueError:
            pass
    raise InputError(f"{what} {text!r} is not a date (use YYYY-MM-DD)")
