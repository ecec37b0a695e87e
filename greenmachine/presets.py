"""The presets of the `statistics=` config group: the statistic names and the pass settings each one names."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources

from greenmachine.conf_store import read_config
from greenmachine.config import build
from greenmachine.errors import GreenmachineError
from greenmachine.statistics import STATISTICS, StatisticsOptions, default_statistics
from greenmachine.statistics.engine import lean_statistics


def statistic_names(names: str | list[str] | tuple[str, ...]) -> list[str]:
    """Return the statistic names of a `statistics.names` setting: `default`, `lean`, `all` or a list."""
    presets = {"default": default_statistics, "lean": lean_statistics, "all": STATISTICS.names}
    if isinstance(names, str):
        if names not in presets:
            raise GreenmachineError(f"statistics.names={names!r}; valid: {', '.join(presets)}, or a list of statistic names")
        return presets[names]()
    for name in names:
        STATISTICS[name]  # raises, listing the valid names
    return list(names)


def options_preset(name: str) -> StatisticsOptions:
    """Return the pass settings of the config group `statistics=<name>` (`default`, `lean`, ...: conf/statistics/).

    Raises GreenmachineError naming the valid presets for an unknown one.
    """
    folder = resources.files("greenmachine.conf") / "statistics"
    valid = sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))
    if name not in valid:
        raise GreenmachineError(f"statistics preset {name!r} is unknown; valid: {', '.join(valid)}")
    values = read_config(f"statistics/{name}.yaml")
    values.pop("names", None)
    return build(StatisticsOptions, values, f"statistics={name}")


def preset_options(names: str | Sequence[str]) -> StatisticsOptions:
    """Return the pass settings of the statistics preset `names` (as `statistics=<names>`: options_preset).

    A list of statistic names gets the default settings.
    """
    return options_preset(names) if isinstance(names, str) else StatisticsOptions()
