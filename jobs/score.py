"""Daily job: score every customer with the champion and publish the run.

``[score]`` settings: ``chunk_rows`` (default 100,000) customers read per chunk; ``executor`` ``local``
(default) or ``dask``; ``scheduler`` the Dask scheduler address (unset: a local cluster);
``workers`` and ``partitions`` for the Dask executor."""

from churndb.config import Settings
from churndb.scoring import DEFAULT_CHUNK_ROWS, score


def run(url: str, settings: Settings) -> dict:
    configured = settings.section("score")
    optional = {k: int(configured[k]) for k in ("workers", "partitions") if k in configured}
    return score(url, settings, chunk_rows=int(configured.get("chunk_rows", DEFAULT_CHUNK_ROWS)),
                 executor=str(configured.get("executor", "local")), scheduler=configured.get("scheduler"),
                 **optional)
