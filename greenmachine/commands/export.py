"""`greenmachine export`: write the hall of fame of a finished search as standalone Python modules."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from omegaconf import DictConfig

from greenmachine.commands import command
from greenmachine.errors import DataNotFoundError, GreenmachineError, check_choice
from greenmachine.export import write_module
from greenmachine.search_record import FINISHED, SearchRecord


@command("export", "write a finished search's hall of fame as standalone Python proxy modules")
def export(cfg: DictConfig) -> list[str]:
    """Read `<run>/report.json` and write one module per found proxy into `out` (default `<run>/proxies`)."""
    run = Path(cfg.run).expanduser()
    report = run / "report.json"
    if not report.is_file():
        raise DataNotFoundError(f"no search report at {report}; run= must be the output folder of a greenmachine search")
    record = SearchRecord.read(report)
    if record.status != FINISHED:
        raise GreenmachineError(f"the search in {run} has not finished; run it again in its folder to resume it, "
                                "then export")
    if not record.origin:
        record = replace(record, origin={"run": str(run)})
    out = Path(cfg.out).expanduser() if cfg.out else run / "proxies"
    entries = record.found
    if cfg.proxy:
        check_choice("proxy", cfg.proxy, [r.name for r in entries])
        entries = [r for r in entries if r.name == cfg.proxy]
    entries = entries[: cfg.top or None]
    if cfg.name and len(entries) != 1:
        raise GreenmachineError(f"name={cfg.name!r} names one proxy; add top=1 or proxy=<one of the hall of fame> "
                                f"(this run has {len(entries)})")
    written = [str(write_module(record.exported(row, cfg.name or f"{cfg.prefix}{row.name}"), out)) for row in entries]
    print("\n".join(written))
    return written
