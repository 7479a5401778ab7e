"""Scoring runs: the chunk pipeline both executors share, the local executor, the Dask executor, the
publish transaction and ``score()``, which ties them together."""
