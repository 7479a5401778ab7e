"""Alembic environment: online migrations only, URL from the caller or churndb config."""

from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        from churndb.store.db import database_url

        url = database_url()
    from churndb.store.db import sqlalchemy_url

    return sqlalchemy_url(url)


def run_migrations_online() -> None:
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            # Serialise concurrent `churndb init` calls on one database.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('churndb.migrate'))")
            context.run_migrations()
        connection.commit()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("churndb migrations run online only (alembic upgrade head)")
run_migrations_online()
