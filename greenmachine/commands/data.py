"""`greenmachine convert` and `greenmachine fetch`: official NATS-Bench files -> the compact tables."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from greenmachine.benchmark.convert import convert_official
from greenmachine.benchmark.fetch import fetch_official
from greenmachine.commands import command, space_of
from greenmachine.errors import GreenmachineError
from greenmachine.paths import cache_dir, data_candidates


def _out(cfg: DictConfig) -> Path:
    return Path(cfg.data_dir).expanduser() if cfg.data_dir else data_candidates()[-1]


@command("convert", "convert official NATS-Bench files into the compact accuracy table (once; loads in < 1 s)")
def convert(cfg: DictConfig) -> str:
    """Write `<data_dir>/<space>/accuracies_long.csv.gz` from the official folder `official`."""
    if not cfg.official:
        raise GreenmachineError("convert needs official=<folder holding NATS-tss-v1_0-3ffb9-simple/ or "
                                "NATS-sss-v1_0-50262-simple/> (e.g. your $TORCH_HOME)")
    path = convert_official(space_of(cfg).name, cfg.official, _out(cfg), bool(cfg.allow_partial))
    print(f"wrote {path}")
    return str(path)


@command("fetch", "download the official NATS-Bench archives, unpack and convert them")
def fetch(cfg: DictConfig) -> str:
    """Download (unless already there), unpack and convert the official archive of `space`."""
    dest = Path(cfg.dest).expanduser() if cfg.dest else cache_dir() / "official"
    path = fetch_official(space_of(cfg).name, dest, _out(cfg))
    print(f"wrote {path}")
    return str(path)
