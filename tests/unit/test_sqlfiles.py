"""SQL by name: every module runs only the statements of its own ``.sql`` file, and they all exist."""

import re
from pathlib import Path

import pytest

from churndb.store import sqlfiles

ROOT = Path(__file__).resolve().parents[2]
USE = re.compile(r"""\bSQL\.(?:query|compose)\(\s*["']([a-z_][a-z0-9_]*)["']""")
DECLARE = re.compile(r"^SQL = statements\(__name__\)$", re.MULTILINE)
# Any other way of reaching a statement: a statements() of another module, a bare query()/compose() of a name.
OTHER = re.compile(r"""(?<![\w.])statements\((?!__name__\))|(?<![.\w])(?:query|compose)\(\s*["']""")


def _modules():
    for folder in ("churndb", "jobs"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            yield name, path.read_text(encoding="utf-8")


def test_each_module_runs_only_statements_of_its_own_file():
    used_files = set()
    for module, text in _modules():
        used = set(USE.findall(text))
        if module == "churndb.store.sqlfiles":
            continue
        assert not OTHER.search(text), f"{module} reaches SQL statements some other way than its own SQL"
        if not used:
            assert not DECLARE.search(text), f"{module} declares SQL statements it never runs"
            continue
        assert DECLARE.search(text), f"{module} runs SQL statements without `SQL = statements(__name__)`"
        own = sqlfiles.file_for(module)
        names = sqlfiles.Statements(module).names()
        missing = sorted(used - names)
        assert not missing, f"{module} runs statements missing from sql/queries/{own}: {missing}"
        unused = sorted(names - used)
        assert not unused, f"sql/queries/{own} holds statements {module} never runs: {unused}"
        used_files.add(own)
    orphans = sorted(set(sqlfiles.query_files()) - used_files)
    assert not orphans, f"statement files no module runs: {orphans}"


def test_a_statement_of_another_modules_file_is_not_found():
    with pytest.raises(KeyError, match="store/registry.sql"):
        sqlfiles.Statements("churndb.store.registry").query("copy_snapshot_staging")


def test_duplicate_names_in_one_file_are_refused():
    with pytest.raises(ValueError, match="duplicate"):
        sqlfiles.parse("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;\n")


def test_compose_accepts_only_driver_quoted_identifiers():
    with pytest.raises(TypeError):
        sqlfiles.Statements("churndb.ingest.snapshot").compose("copy_snapshot_staging", columns="x; DROP TABLE y")
