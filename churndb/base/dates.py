"""Dates given on the command line or in file names."""

from __future__ import annotations

import datetime as dt

from .errors import InputError


def parse_date(text: str, what: str = "--as-of") -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{what} {text!r} is not a date (use YYYY-MM-DD)") from None
