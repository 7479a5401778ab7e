"""Daily job: score every customer with the champion and publish the run."""

from churndb.config import Settings
from churndb.scoring import score


def run(url: str, settings: Settings) -> dict:
    return score(url, settings)
