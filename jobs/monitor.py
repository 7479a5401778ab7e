"""Weekly job: drift, segment shifts, matured performance, projected ROI; alerts."""

from churndb.config import Settings
from churndb.monitor import monitor


def run(url: str, settings: Settings) -> dict:
    return monitor(url, settings)
