"""`greenmachine export`: write the hall of fame of a finished search as standalone Python modules."""

from __future__ import annotations

import re
from pathlib import Path

from omegaconf import DictConfig

from greenmachine.commands import command
from greenmachine.errors import DataNotFoundError, GreenmachineError, check_choice
from greenmachine.export import ExportedProxy, proxy_name, write_module
from greenmachine.search import read_report
from greenmachine.statistics import STATISTICS


def _statistics_of(expression: str) -> tuple[str, ...]:
    """Return the statistic names an exported expression reads."""
    return tuple(sorted({w for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", expression) if w in STATISTICS}))


@command("export", "write a finished search's hall of fame as standalone Python proxy modules")
def export(cfg: DictConfig) -> list[str]:
    """Read `<run>/report.json` and write one module per found proxy into `out` (default `<run>/proxies`)."""
    run = Path(cfg.run).expanduser()
    report = run / "report.json"
    if not report.is_file():
        raise DataNotFoundError(f"no search report at {report}; run= must be the output folder of a greenmachine search")
    payload = read_report(report)
    out = Path(cfg.out).expanduser() if cfg.out else run / "proxies"
    seed = int(payload["tasks"][0]["probe"].get("seed", 0))
    entries = [p for p in payload["proxies"] if p["kind"] == "found"]
    if cfg.proxy:
        check_choice("proxy", cfg.proxy, [p["name"] for p in entries])
        entries = [p for p in entries if p["name"] == cfg.proxy]
    entries = entries[: cfg.top or None]
    if cfg.name and len(entries) != 1:
        raise GreenmachineError(f"name={cfg.name!r} names one proxy; add top=1 or proxy=<one of the hall of fame> "
                                f"(this run has {len(entries)})")
    written = []
    for entry in entries:
        taus = {f"{task}:{s}": c["kendall"] for task, sets in entry["scores"].items() for s, c in sets.items()}
        name = proxy_name(cfg.name or f"{cfg.prefix}{entry['name']}")
        written.append(str(write_module(ExportedProxy(name, entry["formula"], entry["expression"],
                                                      _statistics_of(entry["expression"]), seed, payload["options"],
                                                      payload.get("origin") or {"run": str(run)}, taus), out)))
    print("\n".join(written))
    return written
