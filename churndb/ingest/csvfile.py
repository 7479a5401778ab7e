"""Reading a CSV file the way a careful loader must: every record accounted for.

``open_csv`` scans the file once in blocks (sha256, UTF-8 with optional BOM, no NUL bytes, not empty)
and checks its header, refusing an unusable file with one clear line before anything is loaded;
``CsvStream.chunks`` then yields its records in chunks, each with its line number and raw text, so a
record that cannot be used can be quarantined exactly as it was in the file while memory stays flat
in the file's size.  ``read_csv`` is the same, all records at once (small files: outcomes, tables).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
from typing import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..base.errors import InputError

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


BLOCK = 1 << 20
SAMPLE_LINES = 200  # lines read to detect a delimiter


def _scan(path: Path) -> str:
    """One pass over the bytes: the sha256, and InputError for a missing, empty, binary or non-UTF-8 file."""
    digest, decoder = hashlib.sha256(), codecs.getincrementaldecoder("utf-8")()
    offset, blank = 0, True
    try:
        with path.open("rb") as fh:
            while block := fh.read(BLOCK):
                digest.update(block)
                if b"\x00" in block:
                    raise InputError(f"{path} is not a text CSV file (it contains binary NUL bytes)")
                pending = len(decoder.getstate()[0])
                try:
                    decoder.decode(block)
                except UnicodeDecodeError as exc:
                    raise InputError(f"{path} is not UTF-8 text (invalid byte at offset {offset - pending + exc.start}); "
                                     "re-export it as UTF-8 CSV") from None
                blank = blank and not block.strip()
                offset += len(block)
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError as exc:
                raise InputError(f"{path} is not UTF-8 text (the file ends inside a character at offset "
                                 f"{offset - exc.end + exc.start}); re-export it as UTF-8 CSV") from None
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory, not a CSV file") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    if blank:
        raise InputError(f"{path} is empty: expected a header line and at least one data row")
    return digest.hexdigest()


class _LineTap:
    """The file's physical lines for the csv reader, keeping those of the record being read."""

    def __init__(self, fh):
        self.fh, self.taken = fh, []

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self.fh)
        self.taken.append(line)
        return line

    def raw(self) -> str:
        text = "\n".join(line.rstrip("\r\n") for line in self.taken)
        self.taken = []
        return text


@dataclass(frozen=True)
class CsvStream:
    path: Path
    sha256: str
    header: list[str]
    delimiter: str

    def chunks(self, size: int) -> Iterator[list[Record]]:
        """Every data record in file order, ``size`` at a time (blank lines included as empty field
        lists, except trailing ones); InputError for a file with no data row or unparseable CSV."""
        with self.path.open("r", encoding="utf-8-sig", newline="") as fh:
            tap = _LineTap(fh)
            reader = csv.reader(tap, delimiter=self.delimiter, strict=False)
            chunk: list[Record] = []
            blanks: list[Record] = []  # blank records held back: trailing ones are not records
            seen = 0
            try:
                next(reader)
                tap.raw()
                start = reader.line_num
                for fields in reader:
                    record = Record(start + 1, tap.raw(), fields)
                    start = reader.line_num
                    if not fields and not record.raw.strip():
                        blanks.append(record)
                        continue
                    chunk.extend(blanks)
                    blanks = []
                    chunk.append(record)
                    if len(chunk) >= size:
                        seen += len(chunk)
                        yield chunk
                        chunk = []
            except csv.Error as exc:
                raise InputError(f"{self.path} is not parseable as CSV near line {reader.line_num}: {exc}") from None
            if chunk:
                seen += len(chunk)
                yield chunk
            if not seen:
                raise InputError(f"{self.path} has a header but no data rows; nothing to load")

    def records_at(self, line_numbers: set[int]) -> dict[int, str]:
        """The raw text of the records starting on these lines (a second look, for a few records)."""
        found = {}
        for chunk in self.chunks(10_000):
            found.update({r.line_number: r.raw for r in chunk if r.line_number in line_numbers})
        return found


def open_csv(path: Path, required: tuple[str, ...] = (), delimiter: str = ",") -> CsvStream:
    """Scan ``path`` and check its header; InputError (one line) when it cannot be a CSV of customers.

    ``delimiter``: one of , ; tab |, or ``auto`` to detect it (operators' own exports); the telecom
    layout is comma-separated and says so when a file is not."""
    path = Path(path)
    sha256 = _scan(path)
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        sample = "".join(itertools.islice(fh, SAMPLE_LINES))
    if delimiter == AUTO:
        delimiter = detect_delimiter(path, sample)
    elif delimiter not in DELIMITERS:
        raise InputError(f"--delimiter {delimiter!r} is not one of , ; | or tab")
    try:
        header = [h.strip() for h in next(csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter,
                                                     strict=False), [])]
    except csv.Error as exc:
        raise InputError(f"{path} is not parseable as CSV near line 1: {exc}") from None
    if len(header) == 1 and len(required) > 1:
        for sep, name in DELIMITERS.items():
            if sep != delimiter and sep in header[0]:
                raise InputError(
                    f"{path} looks {name}-separated; this layout is {DELIMITERS[delimiter]}-separated "
                    f"(re-export with {delimiter!r})"
                )
    if not header or any(h == "" for h in header):
        column = header.index("") + 1 if "" in header else 1
        raise InputError(f"{path}: the header has an empty column name (column {column})")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise InputError(f"{path}: the header repeats column(s) {', '.join(dupes)}")
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(
            f"{path} is missing required column(s): {', '.join(missing)} "
            f"(found: {', '.join(header[:8])}{', ...' if len(header) > 8 else ''})"
        )
    return CsvStream(path, sha256, header, delimiter)


def read_csv(path: Path, required: tuple[str, ...] = (), delimiter: str = ",") -> CsvFile:
    """``open_csv`` and every record at once (for files small enough to hold: outcome feeds, tables)."""
    stream = open_csv(path, required, delimiter)
    records = [r for chunk in stream.chunks(100_000) for r in chunk]
    return CsvFile(stream.path, stream.sha256, stream.header, records, stream.delimiter)
