"""A search's files read back: a damaged report.json is named with what to do, never a bare traceback."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from greenmachine.commands import COMMANDS
from greenmachine.errors import CorruptFileError


@pytest.mark.parametrize("content", ["", '{"options": {}, "tasks": [{"name": "nats_tss/cifar10"', "[]", '{"proxies": []}'])
def test_export_names_a_damaged_report(tmp_path, content):
    report = tmp_path / "report.json"
    report.write_text(content)
    cfg = OmegaConf.create({"run": str(tmp_path), "out": None, "prefix": "", "top": 0, "proxy": None, "name": None})
    with pytest.raises(CorruptFileError, match=rf"{report} is corrupt \(.*\); rerun the search in its folder"):
        COMMANDS["export"].run(cfg)
