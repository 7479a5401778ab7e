"""A feed folder as an inbox: each file is loaded on its own and then moved out of the way.

A loaded file goes to ``processed/``; a file that cannot be loaded (bad name, empty, unusable
content) goes to ``failed/`` with ``<name>.error.txt`` beside it saying why, and the next file is
loaded all the same.  So one bad file never blocks the ones after it, and no file is loaded twice.
A database that cannot be reached stops the job and leaves the files where they are, for the next
run.  Moving a file that another run just moved is harmless (ingest is idempotent by sha256).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

from churndb.base.errors import ChurnDBError, DatabaseError
from churndb.base.text import first_line

PROCESSED = "processed"
FAILED = "failed"


def drain(folder: Path, load: Callable[[Path], dict]) -> dict:
    """Load every ``*.csv`` directly in ``folder``, oldest name first; returns what happened to each."""
    files, failed = [], []
    for path in sorted(folder.glob("*.csv")) if folder.is_dir() else []:
        try:
            result = load(path)
        except DatabaseError:
            raise  # not the file's fault: leave it for the next run
        except ChurnDBError as exc:
            reason = first_line(exc)
            _move(path, folder / FAILED).with_name(path.name + ".error.txt").write_text(reason + "\n",
                                                                                       encoding="utf-8")
            failed.append({"file": path.name, "error": reason})
            continue
        _move(path, folder / PROCESSED)
        files.append({"file": path.name, **result})
    return {"directory": str(folder), "files": files, "failed": failed,
            **({"job_status": "succeeded with failed files"} if failed else {})}


def _move(path: Path, into: Path) -> Path:
    into.mkdir(exist_ok=True)
    target = into / path.name
    if target.exists():  # the same name again (a re-sent file): keep both
        stem, n = path.stem, 1
        while (into / f"{stem}.{n}{path.suffix}").exists():
            n += 1
        target = into / f"{stem}.{n}{path.suffix}"
    shutil.move(str(path), target)
    return target
