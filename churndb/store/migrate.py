"""Run Alembic migrations programmatically (``churndb init``, tests).

``migrations/`` sits at the top of the repository and is installed as the package data
``churndb.migrations``; Alembic is pointed at it through ``importlib.resources``, so an installed
wheel and a checkout migrate the same way.  (``alembic.ini`` at the top of a checkout serves the
``alembic`` command line; churndb itself does not need it.)
"""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool

from .db import sqlalchemy_url


def alembic_config(url: str) -> Config:
    cfg = Config()
    # Installed as a plain directory (wheel or checkout), so the resource is a real path.
    cfg.set_main_option("script_location", str(resources.files("churndb.migrations")))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["database_url"] = url
    cfg.attributes["configure_logger"] = False
    return cfg


def upgrade(url: str, revision: str = "head") -> str:
    command.upgrade(alembic_config(url), revision)
    return current_revision(url)


def downgrade(url: str, revision: str = "base") -> str | None:
    command.downgrade(alembic_config(url), revision)
    return current_revision(url)


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config("postgresql://unused")).get_current_head()


def current_revision(url: str) -> str | None:
    engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
