"""Package data, not code: every runtime SQL statement (``queries/<package>/<module>.sql``) and the
current definition of every view (``views/``).  Installed as ``churndb.sql``; read with
``importlib.resources`` by ``churndb.store.sqlfiles``."""
