"""Vectorised row validation shared by every loader.

A ``Checker`` holds the records of one file (or chunk) column by column, as Arrow arrays of stripped
strings, and accumulates, per row, the human-readable reasons it cannot be loaded.  Each ``parse_*``
method returns the typed column and records a reason for every row whose value does not fit.  The
common spellings (plain numbers, the yes/no words, a category's names) are read by Arrow's kernels;
only what those cannot read goes through the slower text rules, so a clean file never pays for them.
``frame`` is the same records as a pandas frame of Python strings, built only for loaders that ask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .csvfile import CsvFile

# Yes/no in the spellings operators' exports use (compared in lower case, stripped).
TRUE_WORDS = frozenset({"1", "true", "yes", "y", "t", "vrai", "oui", "ja", "sí", "si", "wahr"})
FALSE_WORDS = frozenset({"0", "false", "no", "n", "f", "faux", "non", "nein", "falsch"})
_TRUE, _FALSE = pa.array(sorted(TRUE_WORDS), pa.string()), pa.array(sorted(FALSE_WORDS), pa.string())


# A number with thousands grouping that cannot mean anything else ("1,234,567.89"), with or without a
# currency sign in front ("$29.85", "€ 1.234,50" with a decimal comma).
_GROUPED = {".": r"^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$", ",": r"^[-+]?\d{1,3}(\.\d{3})+(,\d+)?$"}
_CURRENCY = r"^([-+]?)\s*[$€£¥]\s*"


def numeric_text(values: pd.Series, decimal: str = ".") -> pd.Series:
    """Text of numbers as Python reads them: with a decimal comma, '1.234,5' -> '1234.5'; a leading
    currency sign and unambiguous thousands grouping ('$1,234.50') are read as the number they show."""
    values = values.str.replace(_CURRENCY, r"\1", regex=True)
    if decimal == ",":
        return values.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    grouped = values.str.match(_GROUPED["."])
    if grouped.any():
        values = values.where(~grouped, values.str.replace(",", "", regex=False))
    return values


# A number as C reads it: what Arrow's cast and pandas' to_numeric both read, to the same value.
PLAIN_NUMBER = r"^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"


def read_number_array(values: pa.Array, decimal: str = ".") -> np.ndarray:
    """``read_numbers`` for an Arrow array of stripped strings: float64, NaN where a value is none."""
    # With a decimal comma "1.234" means 1234: only whole numbers mean the same under both conventions.
    plain = pc.fill_null(pc.match_substring_regex(values, PLAIN_NUMBER if decimal == "." else r"^-?\d+$"), False)
    numbers = pc.cast(pc.if_else(plain, values, pa.scalar(None, pa.string())), pa.float64())
    out = numbers.to_numpy(zero_copy_only=False).astype(float, copy=True)
    plain = plain.to_numpy(zero_copy_only=False)
    retry = ~plain & pc.not_equal(values, "").to_numpy(zero_copy_only=False)
    if retry.any():
        rest = pd.Series(values.filter(pa.array(retry)).to_pylist(), dtype=object)
        out[retry] = read_numbers(rest, decimal).to_numpy(dtype=float)
    return out


def read_numbers(values: pd.Series, decimal: str = ".") -> pd.Series:
    """Numbers of non-blank text values (NaN where a value is none).  Plain numbers are read first, in C;
    only what that cannot read takes the text rules of ``numeric_text`` (a currency sign, thousands
    grouping).  A decimal comma changes what "1.234" means, so there every value takes the text rules."""
    if decimal != ".":
        return pd.to_numeric(numeric_text(values, decimal), errors="coerce").astype(float)
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    retry = numbers.isna().to_numpy() & (values != "").to_numpy()
    if retry.any():
        numbers[retry] = pd.to_numeric(numeric_text(values[retry], decimal), errors="coerce").astype(float)
    return numbers


INT32_MAX = 2_147_483_647
INT64_MAX = 9_223_372_036_854_775_807


@dataclass(frozen=True)
class Rejection:
    """One quarantined record: where it was, its key as written, its raw text and why."""
    line_number: int
    customer_id: str | None
    raw: str | None
    reason: str
    key: str | None = None  # the normalised customer key, where one could be read (duplicates across chunks)


class Checker:
    def __init__(self, csv_file: CsvFile, decimal: str = "."):
        records = csv_file.records
        self.decimal = decimal
        self.header = list(csv_file.header)
        self.records = records
        self._columns: dict[str, pa.Array] = dict(zip(self.header, records.columns))
        self._frame: pd.DataFrame | None = None
        self.reasons: list[list[str]] = [[] for _ in range(len(records))]
        for i, problem in records.problems.items():
            self.reasons[i].append(problem)

    @property
    def frame(self) -> pd.DataFrame:
        """The records as a frame of stripped Python strings, built on first use.  Loaders may add columns
        (``column`` reads them); the file's own columns are read from the Arrow arrays."""
        if self._frame is None:
            self._frame = pd.DataFrame({h: pd.Series(self._columns[h].to_numpy(zero_copy_only=False), dtype=object)
                                        for h in self.header}, index=self.index, columns=self.header)
        return self._frame

    def column(self, name: str) -> pa.Array:
        """One column's stripped text as an Arrow array (a column a loader added to ``frame`` included)."""
        if self._frame is not None and name in self._frame and name not in self._columns:
            return pa.array(self._frame[name].to_numpy(dtype=object), pa.string())
        return self._columns[name]

    @property
    def index(self) -> pd.RangeIndex:
        return pd.RangeIndex(len(self.records))

    # -- bookkeeping -------------------------------------------------------
    def reject(self, mask: np.ndarray | pd.Series, messages: pd.Series | str) -> None:
        """Reject rows under ``mask`` with one message, or with the row's entry of ``messages``."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        idx = np.flatnonzero(mask)
        if isinstance(messages, str):
            for i in idx:
                self.reasons[i].append(messages)
        else:
            values = messages.to_numpy(dtype=object)
            for i in idx:
                self.reasons[i].append(values[i])

    @property
    def rejected(self) -> np.ndarray:
        return np.array([bool(r) for r in self.reasons], dtype=bool)

    def rejections(self, key_column: str, keys: pd.Series | None = None) -> list[Rejection]:
        """Every record with at least one reason, as it was in the file, with its key as written (and,
        given ``keys``, its normalised key)."""
        bad = np.flatnonzero(self.rejected)
        if not len(bad):
            return []
        at = pa.array(bad)
        known = key_column in self._columns or (self._frame is not None and key_column in self._frame)
        written = self.column(key_column).take(at).to_pylist() if known else [""] * len(bad)
        normal = keys.to_numpy(dtype=object)[bad] if keys is not None else [None] * len(bad)
        lines, raw = self.records.line_numbers[bad].tolist(), self.records.raw_text(bad)
        return [Rejection(lines[k], written[k] or None, raw[k], self.reason_text(i),
                          None if normal[k] is None or normal[k] != normal[k] else normal[k])
                for k, i in enumerate(bad.tolist())]

    @property
    def line_numbers(self) -> np.ndarray:
        return self.records.line_numbers

    def reason_text(self, i: int, limit: int = 3) -> str:
        reasons = self.reasons[i]
        more = f" (+{len(reasons) - limit} more)" if len(reasons) > limit else ""
        return "; ".join(reasons[:limit]) + more

    def reject_value(self, mask: np.ndarray | pd.Series, name: str, problem: str) -> None:
        """Reject rows whose value in ``name`` is bad: "<name>: '<value>' <problem>"."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        idx = np.flatnonzero(mask)
        for i, value in zip(idx.tolist(), self.column(name).take(pa.array(idx)).to_pylist()):
            self.reasons[i].append(f"{name}: '{value[:40]}' {problem}")

    # -- parsers -----------------------------------------------------------
    def _blank(self, name: str) -> np.ndarray:
        return pc.equal(self.column(name), "").to_numpy(zero_copy_only=False)

    def parse_number(self, name: str, low=None, high=None, integer=False, required=False,
                     limit: float | None = None) -> pd.Series:
        blank = self._blank(name)
        values = pd.Series(read_number_array(self.column(name), self.decimal), index=self.index).where(~blank)
        bad = values.isna().to_numpy() & ~blank
        self.reject_value(bad, name, "is not a number")
        inf = np.isinf(values.to_numpy())
        self.reject_value(inf, name, "is not a finite number")
        values = values.where(~inf)
        ok = values.notna().to_numpy()
        if integer:
            frac = ok & (values.to_numpy() != np.floor(values.fillna(0).to_numpy()))
            self.reject_value(frac, name, "is not a whole number")
        if low is not None and high is not None:
            out = ok & ((values < low) | (values > high)).to_numpy()
            self.reject_value(out, name, f"is outside {low:g}..{high:g}")
        elif low is not None:
            out = ok & (values < low).to_numpy()
            self.reject_value(out, name, f"is below {low:g}")
        else:
            out = np.zeros(len(values), dtype=bool)
        if limit is not None:
            huge = ok & ~out & (values.abs() > limit).to_numpy()
            self.reject_value(huge, name, "is too large to store")
        if required:
            self.reject(blank, f"{name} is empty")
        return values

    def parse_flag(self, name: str, required=False) -> pd.Series:
        lower = pc.utf8_lower(self.column(name))
        blank = self._blank(name)
        truth = pc.is_in(lower, value_set=_TRUE).to_numpy(zero_copy_only=False)
        falsity = pc.is_in(lower, value_set=_FALSE).to_numpy(zero_copy_only=False)
        bad = ~(truth | falsity) & ~blank
        self.reject_value(bad, name, "is not 0/1 (or yes/no, true/false)")
        if required:
            self.reject(blank, f"{name} is empty")
        return pd.Series(np.where(truth, 1.0, np.where(falsity, 0.0, np.nan)), index=self.index)

    def parse_category(self, name: str, allowed: tuple[str, ...]) -> pd.Series:
        canonical = {a.lower(): a for a in allowed}
        names = list(canonical)
        at = pc.index_in(pc.utf8_lower(self.column(name)), value_set=pa.array(names, pa.string()))
        at = pc.fill_null(at, len(names)).to_numpy(zero_copy_only=False)
        mapped = np.array([canonical[n] for n in names] + [None], dtype=object)[at]
        blank = self._blank(name)
        bad = (at == len(names)) & ~blank
        self.reject_value(bad, name, f"is not one of {', '.join(allowed)}")
        return pd.Series(mapped, index=self.index)

    def reject_duplicates(self, name: str, keys: pd.Series, line_numbers: list[int]) -> None:
        """Reject every occurrence of a key seen more than once: we cannot tell which copy is right.

        ``keys`` holds normalised key text (None where the key is missing)."""
        dup = (keys.duplicated(keep=False) & keys.notna()).to_numpy()
        if not dup.any():
            return
        lines = pd.Series(line_numbers, index=keys.index).astype(str)
        where = lines[dup].groupby(keys[dup]).agg(lambda s: ", ".join(s.iloc[:5]))
        messages = name + " " + keys.fillna("") + " appears more than once (lines " + keys.map(where).fillna("") + ")"
        self.reject(dup, messages)
