"""The packaged config states each default once: dataclass defaults come from the ConfigStore, shared keys from one file."""

from __future__ import annotations

import dataclasses
from importlib import resources

import pytest
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from greenmachine.cli import command_groups, command_keys
from greenmachine.commands import COMMANDS
from greenmachine.conf_store import SCHEMAS, raw_config, read_config

SECTIONS = {"gp": "GPConfig", "probe": "ProbeConfig", "sampling": "SampleProtocol", "statistics": "StatisticsOptions"}
SCHEMA = {cls.__name__: (cls, skip) for cls, skip in SCHEMAS.items()}


def _compose(command: str, overrides: tuple[str, ...] = (), hydra: bool = False):
    with initialize_config_module("greenmachine.conf", version_base="1.3"):
        return compose(command, list(overrides), return_hydra_config=hydra)


def _stated(group: str, option: str) -> dict:
    """Return what a group option's YAML states itself, with the sibling options it builds on (not the stored node)."""
    conf = raw_config(f"{group}/{option}.yaml")
    stated: dict = {}
    for entry in conf.pop("defaults", []):
        if isinstance(entry, str) and entry != "_self_" and not entry.startswith("/"):
            stated |= _stated(group, entry)
    return stated | conf


@pytest.mark.parametrize("command", list(COMMANDS.names()))
def test_every_section_is_its_dataclass_defaults_except_what_its_yaml_states(command):
    cfg = _compose(command, hydra=True)
    choices = cfg.hydra.runtime.choices
    for section, schema in SECTIONS.items():
        if section not in cfg:
            continue
        cls, skip = SCHEMA[schema]
        defaults = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cls()).items()
                    if k not in skip}
        stated = _stated(section, choices[section])
        composed = OmegaConf.to_container(cfg[section], resolve=False)
        assert composed == defaults | stated, (command, section)
        assert set(defaults) - set(stated), f"{section}/{choices[section]}.yaml states every default again"


@pytest.mark.parametrize("section", list(SECTIONS))
def test_group_files_state_only_what_differs_from_the_dataclass(section):
    cls, skip = SCHEMA[SECTIONS[section]]
    defaults = dataclasses.asdict(cls())
    for option in ("default",) if section != "sampling" else ("stratified", "random"):
        own = raw_config(f"{section}/{option}.yaml")
        own.pop("defaults", None)
        repeated = {k: v for k, v in own.items() if k in defaults and defaults[k] == v}
        assert not repeated, f"{section}/{option}.yaml repeats the {cls.__name__} defaults {repeated}"


def test_the_composed_search_settings_are_the_dataclass_defaults():
    from greenmachine.commands.search import settings_of
    from greenmachine.gp import GPConfig

    settings = settings_of(_compose("search", ("seed=3",)))
    assert settings.gp == GPConfig(seed=3) and settings.sampling.seed == 3
    assert dataclasses.replace(settings.sampling, seed=0) == type(settings.sampling)()


@pytest.mark.parametrize("command", list(COMMANDS.names()))
def test_the_checks_know_exactly_the_keys_hydra_composes(command):
    cfg = _compose(command)
    valid, plain = command_keys(command)
    assert set(cfg) <= valid and valid - set(cfg) <= command_groups(command)
    assert set(read_config(f"{command}.yaml")) - {"hydra"} <= set(cfg)
    values = OmegaConf.to_container(cfg, resolve=False)
    assert not any(isinstance(values[k], dict) for k in plain)


COMPUTE = {"device", "workers", "threads", "progress", "data_dir", "cache_dir"}


def test_shared_keys_are_written_once_and_every_command_gets_them():
    for name in ("compute", "data", "target"):
        assert "@package _global_" in (resources.files("greenmachine.conf") / f"{name}.yaml").read_text()
    for command in COMMANDS.names():
        own = raw_config(f"{command}.yaml")
        assert not (set(own) & (COMPUTE | {"dataset", "metric", "epochs"})), f"{command}.yaml repeats a shared key"
    for command in ("search", "evaluate", "cache", "ensemble", "info"):
        assert COMPUTE <= set(_compose(command)), command
    for command in ("fetch", "convert"):
        assert "data_dir" in _compose(command)
    assert _compose("cache", ("workers=2", "threads=3", "progress=false")).threads == 3


@pytest.mark.parametrize("command", list(COMMANDS.names()))
def test_each_command_runs_in_its_own_folder_or_in_place(command):
    hydra = _compose(command, hydra=True).hydra
    assert hydra.runtime.choices["hydra/job_logging"] == "none" == hydra.runtime.choices["hydra/hydra_logging"]
    if command in ("search", "evaluate", "ensemble"):
        assert hydra.run.dir.startswith(f"outputs/{command}/") and hydra.sweep.dir.startswith(f"multirun/{command}/")
        assert hydra.callbacks.mlflow_sweep._target_ == "greenmachine.tracking.SweepCallback"
    else:
        assert hydra.run.dir == "." and hydra.output_subdir is None and not hydra.callbacks
