"""Job: load outcome files (churn, campaign contacts) from ``[feed] outcomes_directory``."""

from pathlib import Path

from churndb.base.config import Settings
from churndb.ingest.outcomes import load_outcomes


def run(url: str, settings: Settings) -> dict:
    folder = Path(settings.get("feed", "outcomes_directory", str) or Path(settings.home) / "outcomes")
    loaded = [{"file": p.name, **load_outcomes(url, p).as_dict()}
              for p in (sorted(folder.glob("*.csv")) if folder.is_dir() else [])]
    return {"directory": str(folder), "files": loaded}
