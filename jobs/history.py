"""Daily job: score_history partitions for the coming months; archive those past ``[history] retain_months``."""

from churndb.base.config import Settings
from churndb.ops.history import maintain


def run(url: str, settings: Settings) -> dict:
    return maintain(url, settings)
