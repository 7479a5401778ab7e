"""Vectorised row validation shared by every loader.

A ``Checker`` holds the records of one file as a frame of stripped strings and
accumulates, per row, the human-readable reasons it cannot be loaded.  Each
``parse_*`` method returns the typed column and records a reason for every
row whose value does not fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .csvfile import CsvFile

# Yes/no in the spellings operators' exports use (compared in lower case, stripped).
TRUE_WORDS = frozenset({"1", "true", "yes", "y", "t", "vrai", "oui", "ja", "sí", "si", "wahr"})
FALSE_WORDS = frozenset({"0", "false", "no", "n", "f", "faux", "non", "nein", "falsch"})


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
        width = len(csv_file.header)
        self.decimal = decimal
        self.header = csv_file.header
        self.records = csv_file.records
        self.reasons: list[list[str]] = [[] for _ in csv_file.records]
        rows = []
        for i, rec in enumerate(csv_file.records):
            if not rec.fields:
                self.reasons[i].append("blank line")
                rows.append([""] * width)
            elif len(rec.fields) != width:
                self.reasons[i].append(f"has {len(rec.fields)} fields, the header has {width}")
                rows.append([""] * width)
            else:
                rows.append([f.strip() for f in rec.fields])
        self.frame = pd.DataFrame(rows, columns=csv_file.header, dtype=object)

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
        bad = self.rejected
        written = self.frame[key_column].to_numpy(dtype=object) if key_column in self.frame else [""] * len(bad)
        normal = keys.to_numpy(dtype=object) if keys is not None else [None] * len(bad)
        return [Rejection(rec.line_number, written[i] or None, rec.raw, self.reason_text(i),
                          None if normal[i] is None or normal[i] != normal[i] else normal[i])
                for i, rec in enumerate(self.records) if bad[i]]

    @property
    def line_numbers(self) -> list[int]:
        return [r.line_number for r in self.records]

    def reason_text(self, i: int, limit: int = 3) -> str:
        reasons = self.reasons[i]
        more = f" (+{len(reasons) - limit} more)" if len(reasons) > limit else ""
        return "; ".join(reasons[:limit]) + more

    def reject_value(self, mask: np.ndarray | pd.Series, name: str, problem: str) -> None:
        """Reject rows whose value in ``name`` is bad: "<name>: '<value>' <problem>"."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        raw = self.frame[name].to_numpy(dtype=object)
        for i in np.flatnonzero(mask):
            self.reasons[i].append(f"{name}: '{raw[i][:40]}' {problem}")

    # -- parsers -----------------------------------------------------------
    def parse_number(self, name: str, low=None, high=None, integer=False, required=False,
                     limit: float | None = None) -> pd.Series:
        raw = self.frame[name]
        blank = (raw == "").to_numpy()
        values = read_numbers(raw, self.decimal).where(~blank)
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
        raw = self.frame[name].str.lower()
        blank = (raw == "").to_numpy()
        truth = raw.isin(TRUE_WORDS)
        falsity = raw.isin(FALSE_WORDS)
        bad = ~(truth | falsity).to_numpy() & ~blank
        self.reject_value(bad, name, "is not 0/1 (or yes/no, true/false)")
        if required:
            self.reject(blank, f"{name} is empty")
        return pd.Series(np.where(truth, 1.0, np.where(falsity, 0.0, np.nan)), index=raw.index)

    def parse_category(self, name: str, allowed: tuple[str, ...]) -> pd.Series:
        raw = self.frame[name]
        canonical = {a.lower(): a for a in allowed}
        mapped = raw.str.lower().map(canonical)
        blank = (raw == "").to_numpy()
        bad = mapped.isna().to_numpy() & ~blank
        self.reject_value(bad, name, f"is not one of {', '.join(allowed)}")
        return mapped

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
