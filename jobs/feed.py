"""Job ``ingest_feed``: load each new customer file of the feed folder as the snapshot of its date.

``[feed] directory`` in the config file (default ``CHURNDB_HOME/feed``).  A file must be named with
its snapshot date, ``customers_YYYY-MM-DD.csv`` (any name holding one valid ``YYYY-MM-DD``): a file
without one would otherwise be loaded as of whatever day the job ran, so it is refused, like a name
with an impossible date (``customers_2026-13-01.csv``).  Files are handled one by one
(``jobs.inbox``): loaded ones move to ``processed/``, refused ones to ``failed/`` with the reason.
"""

import re
from pathlib import Path

from churndb.base.config import Settings
from churndb.base.dates import parse_date
from churndb.base.errors import InputError
from churndb.ingest.snapshot import ingest_snapshot

from .inbox import drain

DATED = re.compile(r"(?<!\d)(\d{4}-\d{2}-\d{2})(?!\d)")


def snapshot_date(path: Path):
    found = DATED.findall(path.name)
    if len(found) != 1:
        raise InputError(f"{path.name}: a feed file is named with its snapshot date, e.g. customers_2026-12-01.csv"
                         + (f" (found {len(found)} dates)" if found else ""))
    return parse_date(found[0], f"{path.name}: the date")


def run(url: str, settings: Settings) -> dict:
    folder = Path(settings.get("feed", "directory", str) or Path(settings.home) / "feed")
    return drain(folder, lambda path: ingest_snapshot(url, path, snapshot_date(path)).as_dict())
