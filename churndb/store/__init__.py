"""PostgreSQL: connections, SQL by name, the COPY helpers, migrations, the model registry and signing,
the policy in force, scoring-run state and the Citus plan.  Uses ``base`` and ``model``."""
