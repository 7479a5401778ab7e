"""Foundations every layer may use: errors, configuration, progress bars, dates and message text.

Imports nothing else of churndb."""
