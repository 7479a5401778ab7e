"""Every SQL statement the code asks for exists, exactly once."""

import re
from pathlib import Path

import pytest

from churndb import sqlfiles

ROOT = Path(__file__).resolve().parents[2]
CALL = re.compile(r"""\b(?:query|compose)\(\s*["']([a-z_][a-z0-9_]*)["']""")


def test_every_statement_name_used_in_code_exists():
    used = set()
    for folder in ("churndb", "jobs"):
        for path in (ROOT / folder).rglob("*.py"):
            used |= set(CALL.findall(path.read_text(encoding="utf-8")))
    assert used, "expected the code to use named statements"
    missing = sorted(used - set(sqlfiles.all_queries()))
    assert not missing, f"statements used but not defined in sql/queries: {missing}"


def test_duplicate_names_in_one_file_are_refused():
    with pytest.raises(ValueError, match="duplicate"):
        sqlfiles.parse("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;\n")


def test_compose_accepts_only_driver_quoted_identifiers():
    with pytest.raises(TypeError):
        sqlfiles.compose("copy_snapshot_staging", columns="x; DROP TABLE y")
