"""Weekly job: drift, segment shifts, matured performance, projected ROI; alerts."""

from churndb.base.config import Settings
from churndb.ops.monitor import monitor


def run(url: str, settings: Settings) -> dict:
    return monitor(url, settings)
