"""Proxies given by name or by the path of an exported module."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from greenmachine.errors import DataNotFoundError, GreenmachineError
from greenmachine.proxies.base import PROXIES, Proxy
from greenmachine.proxies.expression import expression_proxy


def load_exported(path: str | Path) -> Proxy:
    """Return the proxy of an exported module (a `.py` written by `greenmachine search` or `export`)."""
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"no exported proxy at {path}: expected a .py file written by greenmachine search/export")
    spec = importlib.util.spec_from_file_location(f"greenmachine_exported_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    missing = [k for k in ("NAME", "EXPRESSION", "STATISTICS") if not hasattr(module, k)]
    if missing:
        raise GreenmachineError(f"{path} is not an exported greenmachine proxy: it lacks {', '.join(missing)}")
    # a search's proxies/ folder: name it after its run folder, e.g. `tss_cifar10/proxy_1`
    name = f"{path.parent.parent.name}/{module.NAME}" if path.parent.name == "proxies" else module.NAME
    return expression_proxy(name, module.EXPRESSION, module.STATISTICS, (module.__doc__ or "").split("\n")[0],
                             getattr(module, "OPTIONS", None))


def resolve_proxy(spec: str) -> Proxy:
    """Return the proxy named `spec` (a registered proxy) or stored at path `spec` (an exported .py)."""
    if spec.endswith(".py") or "/" in spec:
        return load_exported(spec)
    return PROXIES[spec]
