"""Where a discovered proxy came from: the targets its search evolved on, read from its module's record."""

from __future__ import annotations

import re
from importlib import import_module

from greenmachine.proxies.base import PROXIES

# `greenmachine export` writes the search's origin into the module docstring, one `key: value` line each;
# `searched` (the targets the GP evolved on) where the search recorded it, else `tasks` (every target of
# the run, which is what a multi-target search evolved on).
_LINE = re.compile(r"^\s*(searched|tasks):\s*(\S.*)$", re.MULTILINE)


def searched_targets(name: str) -> tuple[str, ...]:
    """Return the `space/dataset` targets the search that found proxy `name` evolved on; () for a baseline.

    Raises UnknownNameError (listing the proxies) for an unknown name.
    """
    PROXIES[name]  # raises, listing the valid names
    try:
        doc = import_module(f"greenmachine.proxies.{name}").__doc__ or ""
    except ModuleNotFoundError:  # a baseline: registered in baselines.py, found by no search
        return ()
    found = dict(_LINE.findall(doc))
    line = found.get("searched", found.get("tasks", ""))
    return tuple(t.strip() for t in line.split(",") if t.strip())
