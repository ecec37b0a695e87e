"""The `greenmachine` command: one Hydra app per subcommand (`greenmachine <command> [overrides] [--multirun]`)."""

from __future__ import annotations

import sys
from importlib import resources

import hydra
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from greenmachine.commands import COMMANDS
from greenmachine.conf_store import raw_config, read_config
from greenmachine.config import ConfigError
from greenmachine.errors import GreenmachineError


def usage() -> str:
    """Return the top-level help text listing the subcommands."""
    width = max(map(len, COMMANDS))
    lines = ["usage: greenmachine <command> [key=value ...] [--multirun] [--cfg job]", "", "commands:"]
    lines += [f"  {name.ljust(width)}  {COMMANDS[name].summary}" for name in COMMANDS]
    lines += ["", "Each command takes Hydra overrides, e.g. `greenmachine cache space=nats_sss dataset=cifar100 archs=200`;",
              "`greenmachine <command> --help` lists its config groups and settings."]
    return "\n".join(lines)


def space_overrides(args: list[str]) -> list[str]:
    """Return `args` with a `space=` value that is no file of `conf/space` turned into the plug-in group's settings.

    `space=<name>` of an entry-point space becomes `space=plugin space.name=<name>`, and
    `space=<module.Class or file.py:Class>` becomes `space=plugin space._target_=<...>`; a sweep
    (`space=a,b`) is left to Hydra.
    """
    groups = {p.stem for p in (resources.files("greenmachine.conf") / "space").iterdir() if p.name.endswith(".yaml")}
    out = []
    for arg in args:
        key, sep, value = arg.partition("=")
        if key != "space" or not sep or value in groups or "," in value or not value:
            out.append(arg)
        elif ":" in value or value.endswith(".py") or "." in value:
            out += ["space=plugin", f"space._target_='{value}'"]
        else:
            out += ["space=plugin", f"space.name={value}"]
    return out


def command_groups(name: str) -> set[str]:
    """Return the config groups `conf/<name>.yaml` selects (space, statistics, gp, ...), not Hydra's own.

    Entries of its defaults list that name a file (`compute`, `target`) are no groups: their keys are
    the command's settings (command_keys).
    """
    groups = set()
    for entry in raw_config(f"{name}.yaml").get("defaults", []):
        if not isinstance(entry, dict):
            continue
        key = next(iter(entry)).split()[-1].split("@")[0]  # `override x`, `optional x`, `x@package`
        if not key.startswith(("_", "hydra")) and "/" not in key:
            groups.add(key)
    return groups


def group_options(group: str) -> list[str]:
    """Return the options of a config group: the YAML files of `conf/<group>`, sorted."""
    return sorted(p.name.removesuffix(".yaml") for p in (resources.files("greenmachine.conf") / group).iterdir()
                  if p.name.endswith(".yaml"))


def group_keys(group: str) -> set[str]:
    """Return the keys any option of a config group sets, with the dataclass defaults it includes.

    A `@package _global_` option sets none of the group's keys.
    """
    keys: set[str] = set()
    for option in group_options(group):
        text = (resources.files("greenmachine.conf") / group / f"{option}.yaml").read_text()
        if "@package _global_" not in text:
            keys |= set(read_config(f"{group}/{option}.yaml"))
    return keys


def command_keys(name: str) -> tuple[set[str], set[str]]:
    """Return the top-level keys of `conf/<name>.yaml` with the files it includes: every valid one (settings and
    config groups), and its plain settings."""
    groups = command_groups(name)
    settings = {k: v for k, v in read_config(f"{name}.yaml").items() if k != "hydra"}
    return set(settings) | groups, {k for k, v in settings.items() if not isinstance(v, dict) and k not in groups}


def _unknown_keys(unknown: list[str], valid: set[str]) -> ConfigError:
    return ConfigError(f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                       f"valid: {', '.join(sorted(valid))}")


def _choices(value: str) -> list[str]:
    """Return the options a group override names: one, or each of a sweep `a,b` (none for sweep functions)."""
    if any(c in value for c in "()[]{}$"):
        return []
    return [v.strip().strip("'\"") for v in value.split(",")]


def check_overrides(name: str, args: list[str]) -> None:
    """Raise ConfigError for an override Hydra would refuse with a traceback, naming it and the valid ones.

    Caught: an unknown key (`foo=1`, `+foo=1`), an unknown option of a config group (`statistics=nope`;
    `space=` is left to the space registry, which also takes plug-ins), an unknown key inside a
    group's section (`gp.nope=1`), and a key inside a plain setting (`dataset.metric=test`), which
    Hydra misreads.
    """
    valid, plain_keys = command_keys(name)
    groups = command_groups(name)
    for arg in args:
        raw, sep, value = arg.partition("=")
        key = raw.lstrip("+~")
        if not sep or key.startswith("hydra") or "/" in key or "@" in key:
            continue
        head, dot, sub = key.partition(".")
        if dot and head in plain_keys:
            own = f"; {sub} is a key of its own: {sub}={value}" if sub in valid else ""
            raise ConfigError(f"{key}={value}: {head} is a plain value ({head}=<value>), not a section{own}")
        if head not in valid:
            raise _unknown_keys([head], valid)
        if not dot and head in groups and head != "space" and not raw.startswith("~"):
            options = group_options(head)
            for choice in _choices(value):
                if choice not in options and not (choice == "null" and head == "experiment"):
                    raise ConfigError(f"unknown {head} option {choice!r}; valid: {', '.join(options)}")
        if dot and head in groups and not raw.startswith("+"):
            keys = group_keys(head)
            if sub.split(".")[0] not in keys:
                raise ConfigError(f"unknown key {key!r}; valid in {head}: {', '.join(sorted(keys))}")


def check_config(name: str, cfg: DictConfig) -> None:
    """Raise ConfigError for a missing mandatory value (???), an unknown top-level key, or a plain setting given as a section."""
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise ConfigError(f"{missing[0]}= is required (it has no default); e.g. greenmachine {name} {missing[0]}=<value>")
    valid, plain_keys = command_keys(name)
    unknown = sorted(set(cfg) - valid)
    if unknown:
        raise _unknown_keys(unknown, valid)
    for key in sorted(plain_keys & set(cfg)):
        if OmegaConf.is_dict(cfg.get(key)):
            raise ConfigError(f"{key} is a plain value ({key}=<value>), not a section; got {OmegaConf.to_yaml(cfg[key]).strip()}")


# Hydra's flags that take no value, so they can be moved before the overrides.
SWITCHES = ("--multirun", "-m", "--run", "-r", "--resolve", "--help", "-h", "--hydra-help", "--version")


def main(argv: list[str] | None = None) -> int:
    """Run `greenmachine <command> ...`; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"greenmachine: unknown command {name!r}; valid: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    run = COMMANDS[name].run

    def task(cfg: DictConfig) -> object:
        try:
            check_config(name, cfg)
            return run(cfg)
        except GreenmachineError as exc:
            print(f"greenmachine {name}: error: {exc}", file=sys.stderr)
            sys.exit(2)
        except MissingMandatoryValue as exc:
            print(f"greenmachine {name}: error: {exc.full_key}= is required (it has no default); "
                  f"e.g. greenmachine {name} {exc.full_key}=<value>", file=sys.stderr)
            sys.exit(2)

    try:
        check_overrides(name, [a for a in rest if a not in SWITCHES])
    except GreenmachineError as exc:
        print(f"greenmachine {name}: error: {exc}", file=sys.stderr)
        return 2
    # Hydra's parser takes its switches only before the overrides; let them stand anywhere
    switches = [a for a in rest if a in SWITCHES]
    sys.argv = [f"greenmachine {name}", *switches, *space_overrides([a for a in rest if a not in SWITCHES])]
    hydra.main(config_path="pkg://greenmachine.conf", config_name=name, version_base="1.3")(task)()
    return 0
