"""greenmachine: synthesise zero-cost proxies for neural architecture search."""

from greenmachine.spaces import build_network, get_space

__version__ = "0.1.0"

__all__ = ["__version__", "build_network", "get_space"]
