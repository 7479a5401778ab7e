"""Reading a CSV file the way a careful loader must: every record accounted for.

``read_csv`` decodes the file (UTF-8, optional BOM), refuses binary data and
files without rows with one clear line, and returns the header plus every
record with its line number and raw text, so that a record which cannot be
used can be quarantined exactly as it was in the file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

from ..base.errors import InputError

_NEWLINE = re.compile(r"\r\n|\r|\n")
# Huge fields are legal CSV; the default 128 KiB limit would turn them into a traceback.
csv.field_size_limit(64 * 1024 * 1024)


@dataclass(frozen=True)
class Record:
    line_number: int  # 1-based physical line where the record starts
    raw: str
    fields: list[str]


@dataclass(frozen=True)
class CsvFile:
    path: Path
    sha256: str
    header: list[str]
    records: list[Record]  # data records, in file order (blank lines included, as empty field lists)
    delimiter: str = ","


def _decode(path: Path, data: bytes) -> str:
    if b"\x00" in data:
        raise InputError(f"{path} is not a text CSV file (it contains binary NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path} is not UTF-8 text (invalid byte at offset {exc.start}); re-export it as UTF-8 CSV"
        ) from None


DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
AUTO = "auto"


def detect_delimiter(path: Path, text: str) -> str:
    """The delimiter that splits the header and the first lines into the same number (> 1) of fields.

    Tried in the order , ; tab | on up to 50 records, quotes respected; the one giving the most
    records with the header's width wins.  A file where none splits the header is refused."""
    best, best_score = None, 0
    for delimiter in DELIMITERS:
        try:
            rows = list(itertools.islice(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter,
                                                    strict=False), 51))
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        score = sum(1 for r in rows[1:] if len(r) == len(rows[0])) + 1
        if score > best_score:
            best, best_score = delimiter, score
    if best is None:
        first = text.splitlines()[0][:60] if text else ""
        raise InputError(f"{path}: cannot tell how its fields are separated (tried comma, semicolon, tab and pipe; "
                         f"the header reads {first!r}); pass --delimiter")
    return best


def read_csv(path: Path, required: tuple[str, ...] = (), delimiter: str = ",") -> CsvFile:
    """Parse ``path``; raise InputError (one line) when it cannot be a CSV of customers.

    ``delimiter``: one of , ; tab |, or ``auto`` to detect it (operators' own exports); the telecom
    layout is comma-separated and says so when a file is not."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory, not a CSV file") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    if not data.strip():
        raise InputError(f"{path} is empty: expected a header line and at least one data row")
    text = _decode(path, data)
    if delimiter == AUTO:
        delimiter = detect_delimiter(path, text)
    elif delimiter not in DELIMITERS:
        raise InputError(f"--delimiter {delimiter!r} is not one of , ; | or tab")
    lines = _NEWLINE.split(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    try:
        header = [h.strip() for h in next(reader)]
        header_end = reader.line_num
        records: list[Record] = []
        start = header_end
        for fields in reader:
            end = reader.line_num
            records.append(Record(start + 1, "\n".join(lines[start:end]), fields))
            start = end
    except csv.Error as exc:
        raise InputError(f"{path} is not parseable as CSV near line {reader.line_num}: {exc}") from None

    if len(header) == 1 and len(required) > 1:
        for sep, name in DELIMITERS.items():
            if sep != delimiter and sep in header[0]:
                raise InputError(
                    f"{path} looks {name}-separated; this layout is {DELIMITERS[delimiter]}-separated "
                    f"(re-export with {delimiter!r})"
                )
    if any(h == "" for h in header):
        raise InputError(f"{path}: the header has an empty column name (column {header.index('') + 1})")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise InputError(f"{path}: the header repeats column(s) {', '.join(dupes)}")
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(
            f"{path} is missing required column(s): {', '.join(missing)} "
            f"(found: {', '.join(header[:8])}{', ...' if len(header) > 8 else ''})"
        )
    # Trailing blank lines at the very end of a file are not records.
    while records and not records[-1].fields and not records[-1].raw.strip():
        records.pop()
    if not records:
        raise InputError(f"{path} has a header but no data rows; nothing to load")
    return CsvFile(path, hashlib.sha256(data).hexdigest(), header, records, delimiter)
