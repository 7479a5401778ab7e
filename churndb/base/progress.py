"""Progress bars on a terminal only (never with --json, never in a pipe)."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator

_enabled = True


def configure(enabled: bool) -> None:
    global _enabled
    _enabled = enabled


def active() -> bool:
    return _enabled and sys.stderr.isatty()


@contextmanager
def bar(total: int | None, desc: str, unit: str = "rows") -> Iterator[object]:
    """A tqdm bar on stderr when on a terminal; otherwise a no-op with the same ``update``."""
    if active():
        from tqdm import tqdm

        with tqdm(total=total, desc=desc, unit=unit, unit_scale=unit in ("rows", "customers"), leave=False,
                  file=sys.stderr) as t:
            yield t
    else:
        yield _Silent()


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def set_description(self, desc: str) -> None:
        pass
