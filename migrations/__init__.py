"""Package data for Alembic: the schema history.  Installed as ``churndb.migrations`` so that an
installed wheel migrates exactly as a checkout does (``churndb.store.migrate``)."""
