"""Scheduled jobs: one module per job, each exposing ``run(...)``; ``catalog`` names them and
``runner`` runs one under its advisory lock.

Only ``jobs/scheduler.py`` imports APScheduler; of the ``churndb`` library, only the command line
(``churndb.cli``) imports ``jobs`` (checked by the import contracts in ``pyproject.toml``).
"""
