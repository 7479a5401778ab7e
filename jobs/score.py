"""Daily job: score every customer with the champion and publish the run.

``[score] chunk_rows`` (default 100,000) sets how many customers are read per chunk."""

from churndb.config import Settings
from churndb.scoring import DEFAULT_CHUNK_ROWS, score


def run(url: str, settings: Settings) -> dict:
    chunk_rows = int(settings.section("score").get("chunk_rows", DEFAULT_CHUNK_ROWS))
    return score(url, settings, chunk_rows=chunk_rows)
