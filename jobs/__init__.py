"""Scheduled jobs: one module per job, each exposing ``run(...)``.

Only ``jobs/scheduler.py`` imports APScheduler; the ``churndb`` library never
imports ``jobs``.
"""
