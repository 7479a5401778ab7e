"""Text rules: churndb's errors are one line, whatever the text they quote; operators' column names
become identifiers one way everywhere."""

from __future__ import annotations

import re
import unicodedata


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def one_line(text: str) -> str:
    """An error message as exactly one line: messages quote user data (file names, header cells), and a
    vertical tab or a line separator in them must not break the line; such characters are shown escaped."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def column_identifier(text: str) -> str:
    """An operator's column header as a lower-case identifier (``Customer ID`` -> ``customer_id``)."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    name = re.sub(r"[^0-9a-z]+", "_", plain.strip().lower()).strip("_") or "column"
    if name[0].isdigit():
        name = "c_" + name
    return name[:63]
