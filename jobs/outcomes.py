"""Job ``outcomes``: load outcome files (churn, campaign contacts) from ``[feed] outcomes_directory``.

A file named with a date (``outcomes_YYYY-MM-DD.csv``) covers outcomes up to that date; otherwise up
to the day it is loaded.  Files are handled one by one (``jobs.inbox``)."""

from pathlib import Path

from churndb.base.config import Settings
from churndb.base.dates import parse_date
from churndb.ingest.outcomes import load_outcomes

from .feed import DATED
from .inbox import drain


def run(url: str, settings: Settings) -> dict:
    folder = Path(settings.get("feed", "outcomes_directory", str) or Path(settings.home) / "outcomes")

    def load(path: Path) -> dict:
        found = DATED.findall(path.name)
        as_of = parse_date(found[0], f"{path.name}: the date") if len(found) == 1 else None
        return load_outcomes(url, path, as_of).as_dict()

    return drain(folder, load)
