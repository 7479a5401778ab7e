"""Daily job: score every customer with the champion and publish the run.

``[score]`` settings: ``chunk_rows`` (default 100,000) customers read per chunk; ``executor`` ``local``
(default) or ``dask``; ``scheduler`` the Dask scheduler address (unset: a local cluster);
``workers`` and ``partitions`` for the Dask executor."""

from churndb.base.config import Settings
from churndb.scoring.coordinator import score


def run(url: str, settings: Settings) -> dict:
    return score(url, settings)  # [score] settings are read and checked by ScoreOptions
