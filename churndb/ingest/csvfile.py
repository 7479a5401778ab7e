"""Reading a CSV file the way a careful loader must: every record accounted for.

``open_csv`` scans the file once in blocks (sha256, UTF-8 with optional BOM, no NUL bytes, not empty)
and checks its header, refusing an unusable file with one clear line before anything is loaded;
``CsvStream.chunks`` then yields its records in chunks (``Records``: column by column, each record with
its line number and raw text), so a record that cannot be used can be quarantined exactly as it was in
the file while memory stays flat in the file's size.  ``read_csv`` is the same, all records at once
(small files: outcomes, tables).

Two readers give the same ``Records``.  A file without a quote character, whose only carriage returns
end CRLF lines, has one record per physical line: it is split into lines and fields by Arrow's C++
kernels, a block at a time (the scan tells whether a file is such a file).  Any other file is read by
Python's csv module, which knows quoting and line breaks inside quoted fields.
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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..base.errors import InputError

# Huge fields are legal CSV; the default 128 KiB limit would turn them into a traceback.
csv.field_size_limit(64 * 1024 * 1024)


@dataclass(frozen=True)
class Record:
    line_number: int  # 1-based physical line where the record starts
    raw: str
    fields: list[str]


# What Python's str.strip() removes: fields are stripped of exactly these, whichever reader read them.
WHITESPACE = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())


@dataclass(frozen=True)
class Records:
    """Data records in file order, column by column: what the checks read.

    ``columns`` has one array per header column, its fields stripped; a record that has no usable
    fields (a blank line, or not the header's number of fields) has "" in every column and its
    problem in ``problems``.  ``raw`` is each record as written, line endings removed."""
    line_numbers: np.ndarray  # int64: the physical line each record starts on (1-based)
    raw: pa.Array
    columns: tuple[pa.Array, ...]
    problems: dict[int, str]

    def __len__(self) -> int:
        return len(self.line_numbers)

    def raw_text(self, indices) -> list[str]:
        """The raw text of the records at these positions."""
        return self.raw.take(pa.array(np.asarray(indices, dtype=np.int64))).to_pylist()

    @staticmethod
    def from_records(records: list[Record], width: int) -> "Records":
        """Records read by Python's csv module, held column by column."""
        rows, problems = [], {}
        for i, rec in enumerate(records):
            if not rec.fields:
                problems[i] = "blank line"
            elif len(rec.fields) != width:
                problems[i] = f"has {len(rec.fields)} fields, the header has {width}"
            else:
                rows.append(rec.fields)
                continue
            rows.append([""] * width)
        columns = tuple(pc.utf8_trim(pa.array([r[j] for r in rows], pa.string()), characters=WHITESPACE)
                        for j in range(width))
        return Records(np.array([r.line_number for r in records], dtype=np.int64),
                       pa.array([r.raw for r in records], pa.string()), columns, problems)

    @staticmethod
    def concat(parts: list["Records"], width: int) -> "Records":
        if not parts:
            return Records(np.zeros(0, dtype=np.int64), pa.array([], pa.string()),
                           tuple(pa.array([], pa.string()) for _ in range(width)), {})
        problems, offset = {}, 0
        for part in parts:
            problems.update({offset + i: p for i, p in part.problems.items()})
            offset += len(part)
        return Records(np.concatenate([p.line_numbers for p in parts]),
                       pa.concat_arrays([p.raw for p in parts]),
                       tuple(pa.concat_arrays([p.columns[j] for p in parts]) for j in range(width)), problems)


@dataclass(frozen=True)
class CsvFile:
    path: Path
    sha256: str
    header: list[str]
    records: Records  # data records, in file order (blank lines included, as problems)
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


@dataclass(frozen=True)
class Scan:
    sha256: str
    plain: bool  # no quote character, and every carriage return ends a CRLF line: one record per line


def _scan(path: Path) -> Scan:
    """One pass over the bytes: the sha256 and whether the file is plain, and InputError for a missing,
    empty, binary or non-UTF-8 file."""
    digest, decoder = hashlib.sha256(), codecs.getincrementaldecoder("utf-8")()
    offset, blank = 0, True
    quotes, lone_cr, last = 0, 0, b""
    try:
        with path.open("rb") as fh:
            while block := fh.read(BLOCK):
                digest.update(block)
                quotes += block.count(b'"')
                # a CR is lone unless an LF follows it (possibly as the next block's first byte)
                lone_cr += block.count(b"\r") - block.count(b"\r\n") - (last == b"\r" and block[:1] == b"\n")
                last = block[-1:]
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
    return Scan(digest.hexdigest(), plain=quotes == 0 and lone_cr == 0)


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
    plain: bool = False  # one record per physical line: read by Arrow (see the module's docstring)

    def chunks(self, size: int) -> Iterator[Records]:
        """Every data record in file order, ``size`` at a time (blank lines included as problems, except
        trailing ones); InputError for a file with no data row or unparseable CSV."""
        width = len(self.header)
        if self.plain:
            yield from _plain_chunks(self.path, self.delimiter, width, size)
        else:
            for records in self._python_chunks(size):
                yield Records.from_records(records, width)

    def _python_chunks(self, size: int) -> Iterator[list[Record]]:
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
        wanted = np.fromiter(line_numbers, dtype=np.int64, count=len(line_numbers))
        for chunk in self.chunks(100_000):
            at = np.flatnonzero(np.isin(chunk.line_numbers, wanted))
            if len(at):
                found.update(zip(chunk.line_numbers[at].tolist(), chunk.raw_text(at)))
        return found


PLAIN_BLOCK = 16 << 20  # bytes of a plain file split into lines at a time
MAX_LINE = 64 << 20  # the csv module's field limit: no line of a plain file may be longer


def _plain_chunks(path: Path, delimiter: str, width: int, size: int) -> Iterator[Records]:
    """A plain file's records, ``size`` at a time: physical lines split by Arrow's kernels.  Blank lines
    are held back until a record follows them (trailing blank lines are not records)."""
    next_line, seen = 2, 0  # the header is line 1
    pending = pa.array([], pa.string())  # lines read, not yet yielded
    with path.open("rb") as fh:
        fh.readline()  # the header, checked by open_csv
        carry = b""
        while True:
            block = fh.read(PLAIN_BLOCK)
            final = not block
            data = carry + block
            cut = len(data) if final else data.rfind(b"\n") + 1
            data, carry = data[:cut], data[cut:]
            if len(carry) > MAX_LINE:
                line = next_line + len(pending) + data.count(b"\n")
                raise InputError(f"{path}: line {line} is longer than {MAX_LINE >> 20} MiB; not a CSV of customers")
            if data:
                lines = pc.split_pattern(pa.array([data.decode("utf-8")], pa.string()), "\n").values
                if data.endswith(b"\n"):
                    lines = lines.slice(0, len(lines) - 1)  # the empty text after the last line break
                if b"\r" in data:
                    lines = pc.utf8_rtrim(lines, characters="\r")
                pending = pa.concat_arrays([pending, lines])
            if final or len(pending) >= size:
                # what can go: up to the last non-blank line (blank lines after it may be trailing ones)
                nonblank = np.flatnonzero(pc.not_equal(pending, "").to_numpy(zero_copy_only=False))
                end = int(nonblank[-1]) + 1 if len(nonblank) else 0
                start = 0
                while end - start >= size or (final and end > start):
                    take = min(size, end - start)
                    yield _split_fields(pending.slice(start, take), next_line, delimiter, width)
                    next_line, seen, start = next_line + take, seen + take, start + take
                pending = pending.slice(start)
            if final:
                break
    if not seen:
        raise InputError(f"{path} has a header but no data rows; nothing to load")


def _split_fields(lines: pa.Array, first_line: int, delimiter: str, width: int) -> Records:
    """One record per line: fields split at the delimiter, stripped, arranged in columns."""
    n = len(lines)
    fields = pc.split_pattern(lines, delimiter)
    counts = pc.list_value_length(fields).to_numpy(zero_copy_only=False)
    empty = pc.equal(lines, "").to_numpy(zero_copy_only=False)
    good = (counts == width) & ~empty
    values = pc.utf8_trim(fields.values, characters=WHITESPACE)
    values = pa.concat_arrays([values, pa.array([""], pa.string())])  # what a record without fields shows
    starts = fields.offsets.to_numpy()[:-1].astype(np.int64)
    missing = len(values) - 1
    columns = tuple(values.take(pa.array(np.where(good, starts + j, missing))) for j in range(width))
    problems = {}
    for i in np.flatnonzero(~good).tolist():
        problems[i] = "blank line" if empty[i] else f"has {counts[i]} fields, the header has {width}"
    return Records(np.arange(first_line, first_line + n, dtype=np.int64), lines, columns, problems)


def open_csv(path: Path, required: tuple[str, ...] = (), delimiter: str = ",") -> CsvStream:
    """Scan ``path`` and check its header; InputError (one line) when it cannot be a CSV of customers.

    ``delimiter``: one of , ; tab |, or ``auto`` to detect it (operators' own exports); the telecom
    layout is comma-separated and says so when a file is not."""
    path = Path(path)
    scan = _scan(path)
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
    return CsvStream(path, scan.sha256, header, delimiter, plain=scan.plain)


def read_csv(path: Path, required: tuple[str, ...] = (), delimiter: str = ",") -> CsvFile:
    """``open_csv`` and every record at once (for files small enough to hold: outcome feeds, tables)."""
    stream = open_csv(path, required, delimiter)
    records = Records.concat(list(stream.chunks(100_000)), len(stream.header))
    return CsvFile(stream.path, stream.sha256, stream.header, records, stream.delimiter)
