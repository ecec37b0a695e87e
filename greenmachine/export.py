"""Proxy -> standalone Python module: the only code that writes discovered proxies out as source.

An exported module holds the formula (readable, in its docstring), the expression the GP
evaluated, the statistics it reads and where it came from, and a `score(net, inputs, targets=None)`
that computes only those statistics on any PyTorch network.
"""

from __future__ import annotations

import keyword
import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from greenmachine.statistics.cache import atomic_write_text


@dataclass(frozen=True)
class ExportedProxy:
    """What an exported module records.

    Attributes:
        name: module and proxy name (a Python identifier).
        formula: readable math.
        expression: the `gp.render.to_python` expression.
        statistics: statistics it reads.
        probe_seed: seed of the probe it was found with (its random draws derive from it).
        options: statistics pass settings of the search.
        origin: where it came from (run id, space, dataset, sampling, ...).
        taus: measured Kendall tau by evaluation set name.
    """

    name: str
    formula: str
    expression: str
    statistics: tuple[str, ...]
    probe_seed: int
    options: Mapping[str, int]
    origin: Mapping[str, str] = field(default_factory=dict)
    taus: Mapping[str, float] = field(default_factory=dict)


def proxy_name(text: str) -> str:
    """Return `text` made into a valid, non-keyword Python identifier."""
    name = re.sub(r"\W", "_", text.strip()).lower() or "proxy"
    name = f"p_{name}" if name[0].isdigit() or keyword.iskeyword(name) else name
    return name


def render_module(proxy: ExportedProxy) -> str:
    """Return the source of the standalone module of `proxy`."""
    origin = "\n".join(f"    {k}: {v}" for k, v in proxy.origin.items()) or "    (not recorded)"
    taus = "\n".join(f"    {k}: {v:.4f}" for k, v in proxy.taus.items()) or "    (not measured)"
    formula = "\n".join(textwrap.wrap(proxy.formula, 96, subsequent_indent="    ", break_long_words=False,
                                      break_on_hyphens=False))
    options = ", ".join(f"{k}={v!r}" for k, v in proxy.options.items())
    return f'''"""{proxy.name}: a zero-cost proxy discovered by greenmachine (larger score = predicted better).

Formula (sum_l, mean_l, ... reduce over a network's weighted layers, in forward order):
    {formula}

Found by:
{origin}

Kendall tau measured:
{taus}

Statistics read: {", ".join(proxy.statistics)}.
"""

from __future__ import annotations

from greenmachine.proxies.expression import score_network
from greenmachine.statistics import StatisticsOptions

NAME = {proxy.name!r}
EXPRESSION = {proxy.expression!r}
STATISTICS = {tuple(proxy.statistics)!r}
PROBE_SEED = {proxy.probe_seed!r}
OPTIONS = StatisticsOptions({options})


def score(net, inputs, targets=None) -> float:
    """Return the proxy's score of the untrained network `net` on probe images `inputs` [B, C, H, W].

    `targets` (labels, int [B]) are needed only when a statistic read depends on labels.
    """
    return score_network(net, inputs, targets, EXPRESSION, STATISTICS, PROBE_SEED, OPTIONS)
'''


def write_module(proxy: ExportedProxy, folder: str | Path) -> Path:
    """Write `proxy`'s module as `<folder>/<name>.py` (atomically) and return its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{proxy.name}.py"
    atomic_write_text(path, render_module(proxy))
    return path
