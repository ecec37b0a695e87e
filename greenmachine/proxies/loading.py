"""Proxies given by name or by the path of an exported module."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path

import torch

from greenmachine.errors import DataNotFoundError, GreenmachineError
from greenmachine.gp.evaluate import NAMESPACE
from greenmachine.proxies.base import PROXIES, Proxy
from greenmachine.proxies.expression import expression_proxy
from greenmachine.statistics import StatisticsOptions
from greenmachine.statistics.table import StatisticsTable


def _check_expression(path: Path, expression: object, statistics: tuple[str, ...]) -> None:
    """Raise GreenmachineError unless `expression` compiles and reads only primitives, `mask` and `statistics`."""
    if not isinstance(expression, str):
        raise GreenmachineError(f"{path}: its EXPRESSION is a {type(expression).__name__}, not a string")
    try:
        code = compile(expression, str(path), "eval")
    except SyntaxError as exc:
        raise GreenmachineError(f"{path}: its EXPRESSION is not a Python expression ({exc.msg}): {expression!r}") from None
    known = set(NAMESPACE) | set(statistics) | {"mask"}
    unknown = [name for name in code.co_names if name not in known]
    if unknown:
        raise GreenmachineError(f"{path}: its EXPRESSION uses {unknown[0]!r}, which is neither a primitive nor one of "
                                f"its STATISTICS ({', '.join(statistics)}); re-export it with greenmachine export")


def load_exported(path: str | Path) -> Proxy:
    """Return the proxy of an exported module (a `.py` written by `greenmachine search` or `export`).

    Raises GreenmachineError naming the file when it fails to import, is not an exported proxy or its
    expression is malformed; the proxy raises GreenmachineError naming the file when scoring fails.
    """
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"no exported proxy at {path}: expected a .py file written by greenmachine search/export")
    spec = importlib.util.spec_from_file_location(f"greenmachine_exported_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # a user's file: whatever it raises is reported as one line naming it
        raise GreenmachineError(f"{path} failed to import: {type(exc).__name__}: {exc}") from exc
    missing = [k for k in ("NAME", "EXPRESSION", "STATISTICS") if not hasattr(module, k)]
    if missing:
        raise GreenmachineError(f"{path} is not an exported greenmachine proxy: it lacks {', '.join(missing)}")
    statistics = tuple(module.STATISTICS)
    _check_expression(path, module.EXPRESSION, statistics)
    # a search's proxies/ folder: name it after its run folder, e.g. `tss_cifar10/proxy_1`
    name = f"{path.parent.parent.name}/{module.NAME}" if path.parent.name == "proxies" else module.NAME
    options = getattr(module, "OPTIONS", None)
    if isinstance(options, Mapping):  # a standalone module holds its settings as plain values
        options = StatisticsOptions(**options)
    proxy = expression_proxy(name, module.EXPRESSION, statistics, (module.__doc__ or "").split("\n")[0], options)

    def evaluate(table: StatisticsTable) -> torch.Tensor:
        try:
            return proxy.evaluate(table)
        except GreenmachineError:
            raise
        except Exception as exc:  # e.g. a primitive given the wrong arguments
            raise GreenmachineError(f"proxy {name} ({path}) failed when scored: {type(exc).__name__}: {exc}") from exc

    return Proxy(proxy.name, proxy.statistics, evaluate, proxy.pool_relative, proxy.doc, proxy.options)


def resolve_proxy(spec: str) -> Proxy:
    """Return the proxy named `spec` (a registered proxy) or stored at path `spec` (an exported .py)."""
    if spec.endswith(".py") or "/" in spec:
        return load_exported(spec)
    return PROXIES[spec]
