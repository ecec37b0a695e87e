"""The `greenmachine` command: one Hydra app per subcommand (`greenmachine <command> [overrides] [--multirun]`)."""

from __future__ import annotations

import sys
from importlib import resources

import hydra
from omegaconf import DictConfig

from greenmachine.commands import COMMANDS
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
            return run(cfg)
        except GreenmachineError as exc:
            print(f"greenmachine {name}: error: {exc}", file=sys.stderr)
            sys.exit(2)

    # Hydra's parser takes its switches only before the overrides; let them stand anywhere
    switches = [a for a in rest if a in SWITCHES]
    sys.argv = [f"greenmachine {name}", *switches, *space_overrides([a for a in rest if a not in SWITCHES])]
    hydra.main(config_path="pkg://greenmachine.conf", config_name=name, version_base="1.3")(task)()
    return 0
