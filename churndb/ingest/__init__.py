"""Loading files: CSV reading, row checks, the one batch/quarantine mechanism, and the snapshot, table
and outcome loaders built on it."""
