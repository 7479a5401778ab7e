"""Job: load every new customer file from the feed directory as a snapshot.

``[feed] directory`` in the config file (default ``CHURNDB_HOME/feed``).  A
file named ``customers_YYYY-MM-DD.csv`` is the snapshot of that date; others
are loaded as of today.  Files already loaded are recognised by their sha256
and skipped by ingest itself, so running the job twice is harmless.
"""

import datetime as dt
import re
from pathlib import Path

from churndb.base.config import Settings
from churndb.ingest.snapshot import ingest_snapshot

DATED = re.compile(r"(\d{4}-\d{2}-\d{2})")


def run(url: str, settings: Settings) -> dict:
    folder = Path(settings.get("feed", "directory", str) or Path(settings.home) / "feed")
    loaded = []
    for path in sorted(folder.glob("*.csv")) if folder.is_dir() else []:
        match = DATED.search(path.name)
        as_of = dt.date.fromisoformat(match.group(1)) if match else None
        result = ingest_snapshot(url, path, as_of)
        loaded.append({"file": path.name, **result.as_dict()})
    return {"directory": str(folder), "files": loaded}
