"""The house rules are checked, not hoped for: layers, no import circle, no look-alike module names.

The layer contracts live in ``pyproject.toml`` (``[tool.importlinter]``) and are run here with
import-linter; a forbidden import anywhere in churndb or jobs fails this test.
"""

import itertools
from pathlib import Path

import grimp
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_hold(tmp_path):
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True) == 0


def test_no_import_circle_among_churndb_modules():
    graph = grimp.build_graph("churndb", "jobs")
    circles = []
    for importer in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(importer):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back and importer != imported and not importer.startswith(imported + "."):
                circles.append(" -> ".join((importer,) + tuple(back)))
    assert not circles, "import circles: " + "; ".join(circles)


def _names() -> dict[str, list[str]]:
    """Module and package names of churndb and jobs -> where they stand."""
    out: dict[str, list[str]] = {}
    for folder in ("churndb", "jobs"):
        for path in (ROOT / folder).rglob("*.py"):
            stem = path.parent.name if path.name == "__init__.py" else path.stem
            if not stem.startswith("__"):
                out.setdefault(stem, []).append(str(path.relative_to(ROOT)))
    return {k: sorted(set(v)) for k, v in out.items()}


def _look_alike(a: str, b: str) -> bool:
    """scoring/scorer, training/trainer, ingest/ingest_table, report/report_html, run/runs,
    distributed/distribution: one name is the other plus a little, or both are one stem with short endings."""
    short, long_ = sorted((a, b), key=len)
    if len(short) >= 4 and (long_.startswith(short) or long_.endswith(short)):
        return True
    common = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), len(short))
    return common >= 4 and len(a) - common <= 3 and len(b) - common <= 3


def test_no_two_modules_with_look_alike_names():
    names = _names()
    same = {n: where for n, where in names.items()
            if len(where) > 1 and not (len(where) == 2 and sum(w.startswith("jobs/") for w in where) == 1)}
    # The one shared name allowed: a job named after what it runs (jobs/monitor.py runs ops/monitor.py).
    assert not same, f"modules with the same name: {same}"
    alike = [(a, b) for a, b in itertools.combinations(sorted(names), 2) if _look_alike(a, b)]
    assert not alike, f"look-alike module names: {alike}"
