"""Daily job: score_history partitions for the coming months; archive those past ``[history] retain_months``."""

from churndb.config import Settings
from churndb.history import maintain


def run(url: str, settings: Settings) -> dict:
    return maintain(url, settings)
