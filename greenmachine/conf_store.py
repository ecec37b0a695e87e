"""The packaged config's defaults written once: the settings dataclasses feed Hydra's ConfigStore.

Each settings dataclass's defaults are stored as a config named after the class (`GPConfig`,
`ProbeConfig`, `SampleProtocol`, `StatisticsOptions`), and a group option includes it before its own
values (`defaults: [/GPConfig@_here_, _self_]`), so `conf/gp/default.yaml` holds only what differs
from `GPConfig()`. The stored nodes are plain dicts, not structured configs: OmegaConf enforces no
types, so a bad key or value is refused by greenmachine's own checks (cli.check_overrides,
config.build), which name the key and the valid ones.

Importing this module registers the nodes (greenmachine.conf and greenmachine.commands import it).
`read_config` reads a packaged config file with what its defaults list includes, for the checks
that run before Hydra composes.
"""

from __future__ import annotations

import dataclasses
from importlib import resources
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from greenmachine.benchmark.sampling import SampleProtocol
from greenmachine.config import ProbeConfig
from greenmachine.gp.config import GPConfig
from greenmachine.statistics.core import StatisticsOptions

# Each stored dataclass, with its fields that are no setting of its config section.
SCHEMAS: dict[type, tuple[str, ...]] = {
    GPConfig: (),
    ProbeConfig: (),
    SampleProtocol: ("dataset", "metric", "epochs", "exclude"),  # the search fills in its target and evaluation holdout
    StatisticsOptions: (),
}


def defaults_node(cls: type, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Return the defaults of a settings dataclass as plain config values (tuples as lists), without the fields `skip`."""
    values = dataclasses.asdict(cls())
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items() if k not in skip}


NODES: dict[str, dict[str, Any]] = {cls.__name__: defaults_node(cls, skip) for cls, skip in SCHEMAS.items()}


def register() -> None:
    """Store each node of NODES in Hydra's ConfigStore under its class name (storing again replaces it)."""
    store = ConfigStore.instance()
    for name, node in NODES.items():
        store.store(name=name, node=node)


def raw_config(path: str) -> dict[str, Any]:
    """Return the packaged config file `conf/<path>` (e.g. `gp/default.yaml`) as plain values, unresolved."""
    text = (resources.files("greenmachine.conf") / path).read_text()
    return OmegaConf.to_container(OmegaConf.create(text), resolve=False) or {}


def read_config(path: str) -> dict[str, Any]:
    """Return `conf/<path>` with the configs its defaults list includes merged in Hydra's order, unresolved.

    Included are stored dataclass defaults (`/GPConfig@_here_`), other files (`compute`, a sibling
    option such as `default`) and what they include in turn; group choices (`- space: nats_tss`)
    and overrides are not followed. The result has no `defaults` key.
    """
    conf = raw_config(path)
    group = path.rpartition("/")[0]
    entries = conf.pop("defaults", [])
    if "_self_" not in entries:
        entries = [*entries, "_self_"]
    merged = OmegaConf.create()
    for entry in entries:
        if entry == "_self_":
            part = conf
        elif isinstance(entry, str):
            name = entry.partition("@")[0]
            name = name[1:] if name.startswith("/") else f"{group}/{name}".lstrip("/")
            part = NODES[name] if name in NODES else read_config(f"{name}.yaml")
        else:
            continue
        merged = OmegaConf.merge(merged, OmegaConf.create(part))
    return OmegaConf.to_container(merged, resolve=False)


register()
