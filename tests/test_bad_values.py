"""Bad values give one clear line naming the value and the valid forms, never a traceback, and before any work."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from greenmachine.archs import select_archs
from greenmachine.cli import main
from greenmachine.commands import compute_settings, proxies_of
from greenmachine.commands.search import check_gp, evaluation_size_of
from greenmachine.config import ConfigError
from greenmachine.errors import GreenmachineError
from greenmachine.gp import GPConfig
from greenmachine.proxies.loading import load_exported
from greenmachine.spaces import get_space
from greenmachine.statistics.runner import usable_cores
from greenmachine.statistics.table import StatisticsTable


@pytest.fixture
def cli(monkeypatch, tmp_path, capsys):
    """Return args -> (exit code, stderr) of `greenmachine <args>` run in this process, in an empty folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    monkeypatch.setenv("GREENMACHINE_CACHE", str(tmp_path / "cache"))

    def run(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = exc.code
        err = capsys.readouterr().err
        return code, err

    return run


def _one_clear_line(code: int, err: str, command: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err and "HYDRA_FULL_ERROR" not in err, err
    line = next(line for line in err.splitlines() if line.startswith(f"greenmachine {command}: error: "))
    return line


@pytest.mark.parametrize("args,message", [
    (("cache", "archs=a:b"), "archs='a:b' is not understood: 'a' is not an index; valid: all, holdout, a count N"),
    (("cache", "workers=abc"), "workers='abc'; valid: auto or a positive integer (worker processes)"),
    (("cache", "workers=0"), "workers=0; valid: auto or a positive integer (worker processes)"),
    (("cache", "threads=x"), "threads='x'; valid: auto or a positive integer (torch CPU threads per worker)"),
    (("search", "threads=0", "tracking=none"), "threads=0; valid: auto or a positive integer (torch CPU threads per worker)"),
    (("export",), "run= is required (it has no default); e.g. greenmachine export run=<value>"),
    (("cache", "+foo=1"), "unknown key 'foo'; valid: archs, backend, cache_dir, chunk_size, data_dir, dataset, device, "
                          "epochs, metric, probe, progress, ray_address, space, statistics, threads, workers"),
    (("search", "foo=bar"), "unknown key 'foo'; valid: also, cache_dir, data_dir, dataset, debug, device, epochs, "
                            "evaluation_size, experiment, gp, metric, probe, progress, sampling, seed, space, statistics, "
                            "threads, tracking, unseen, workers"),
    (("search", "+foo.bar=1"), "unknown key 'foo'; valid: also, "),
    (("search", "gp.nope=1"), "unknown key 'gp.nope'; valid in gp: constants, crossover, crossover_rate, elitism, "),
    (("search", "sampling.nope=3"), "unknown key 'sampling.nope'; valid in sampling: binning, bins, drop_broken, "),
    (("search", "statistics=nope"), "unknown statistics option 'nope'; valid: all, default, lean"),
    (("search", "--multirun", "statistics=lean,nope"), "unknown statistics option 'nope'; valid: all, default, lean"),
    (("evaluate", "tracking=nope"), "unknown tracking option 'nope'; valid: mlflow, none"),
    (("search", "experiment=nope"), "unknown experiment option 'nope'; valid: graf_ensemble, greenfactory, greenmachine_sss, "),
    (("search", "space=nope", "tracking=none"), "unknown space 'nope'; valid: nas_bench_macro, nasbench101, nats_sss, "),
    (("cache", "dataset.metric=test"), "dataset.metric=test: dataset is a plain value (dataset=<value>), not a section; "
                                       "metric is a key of its own: metric=test"),
    (("cache", "+dataset.metric=test"), "dataset.metric=test: dataset is a plain value (dataset=<value>), not a section"),
    (("cache", "archs=[0,5,0]"), "archs lists arch 0 twice; each arch may appear once"),
    (("evaluate", "archs=[0]", "tracking=none"), "evaluate needs at least 2 archs to rank, got 1 (archs=[0])"),
    (("evaluate", "proxies=[]", "archs=8", "tracking=none"), "proxies=[] names no proxy; valid: "),
    (("evaluate", "proxies=[meco,meco]", "archs=8", "tracking=none"), "proxies lists 'meco' twice"),
    (("search", "gp.terminals=[]", "tracking=none"), "gp.terminals=[] names no statistic; valid: null (every statistic "
                                                      "of the run) or a list of: "),
    (("search", "gp.terminals=[synflow,nope]", "tracking=none"), "unknown gp.terminals statistic 'nope'; valid: "),
    (("search", "evaluation_size=-1", "tracking=none"),
     "evaluation_size=-1; valid: null (the space's own holdout), 0 (no evaluation holdout) or a positive integer"),
])
def test_a_bad_value_is_one_clear_line_before_any_work(cli, tmp_path, args, message):
    code, err = cli(*args)
    assert message in _one_clear_line(code, err, args[0])
    assert not (tmp_path / "cache").exists(), "statistics were computed before the bad value was refused"


def test_select_archs_refuses_duplicates_given_as_index_and_string():
    space = get_space("nats_tss")
    with pytest.raises(GreenmachineError, match=r"archs lists arch 0 twice \(as 0 and '\|"):
        select_archs("nats_tss", [0, 3, space.arch_string(0)])
    assert select_archs("nats_tss", [3, space.arch_string(0)]).tolist() == [3, 0]
    assert select_archs("nats_tss", "2:5").tolist() == [2, 3, 4]
    for bad in ("a:b", "1:x", ":b"):
        with pytest.raises(GreenmachineError, match="is not understood"):
            select_archs("nats_tss", bad)


def test_compute_settings_checks_workers():
    def cfg(workers):
        return OmegaConf.create({"workers": workers, "device": "cpu", "progress": False, "data_dir": None,
                                 "cache_dir": None})

    assert compute_settings(cfg("auto")).workers is None and compute_settings(cfg(3)).workers == 3
    assert compute_settings(cfg("2")).workers == 2
    for bad in ("abc", 0, -1, 1.5, True):
        with pytest.raises(ConfigError, match=r"workers=.*; valid: auto or a positive integer"):
            compute_settings(cfg(bad))


def test_compute_settings_checks_threads_and_plans_workers_and_threads():
    def cfg(workers, threads):
        return OmegaConf.create({"workers": workers, "threads": threads, "device": "cpu", "progress": False,
                                 "data_dir": None, "cache_dir": None})

    cores = usable_cores()
    assert compute_settings(cfg("auto", "auto")).plan() == (cores, 1)  # one thread per worker, a worker per core
    assert compute_settings(cfg(1, "auto")).plan() == (1, cores)  # a single worker takes every core
    assert compute_settings(cfg(2, 3)).plan() == (2, 3) and compute_settings(cfg(2, "4")).threads == 4
    for bad in ("abc", 0, -1, 1.5, True):
        with pytest.raises(ConfigError, match=r"threads=.*; valid: auto or a positive integer \(torch CPU threads"):
            compute_settings(cfg("auto", bad))


def test_proxies_of_checks_the_list():
    assert [p.name for p in proxies_of(["meco", "synflow"])] == ["meco", "synflow"]
    for bad, message in (([], r"proxies=\[\] names no proxy"), ("meco", r"proxies='meco' is a string"),
                         (["meco", "meco"], "proxies lists 'meco' twice"), (["nope"], "unknown proxy 'nope'")):
        with pytest.raises(GreenmachineError, match=message):
            proxies_of(bad)


def test_check_gp_names_the_run_statistics():
    assert check_gp({}, ["synflow", "meco"]) == GPConfig()
    assert check_gp({"terminals": ["meco"]}, ["synflow", "meco"]).terminals == ("meco",)
    with pytest.raises(GreenmachineError, match=r"gp.terminals=\[\] names no statistic; .*: meco, synflow"):
        check_gp({"terminals": []}, ["synflow", "meco"])
    with pytest.raises(GreenmachineError, match=r"unknown gp.terminals statistic 'zico'; valid: meco, synflow"):
        check_gp({"terminals": ["zico"]}, ["synflow", "meco"])
    with pytest.raises(GreenmachineError, match="cannot build a per-network score"):  # per-layer only, no reduction
        check_gp({"terminals": ["meco_layer"], "primitives": ["add"], "constants": False}, ["meco_layer", "meco"])
    with pytest.raises(GreenmachineError, match="terminals is empty"):  # the library refuses it too
        GPConfig(terminals=())


def test_evaluation_size_of():
    assert evaluation_size_of(None) is None and evaluation_size_of(0) == 0 and evaluation_size_of(24) == 24
    for bad in (-1, "abc", 2.5, True):
        with pytest.raises(ConfigError, match=r"evaluation_size=.*; valid: null .*, 0 .* or a positive integer"):
            evaluation_size_of(bad)


MODULE = '''"""A test proxy."""
NAME = "bad"
EXPRESSION = {expression!r}
STATISTICS = ("synflow",)
{extra}
'''


def _table() -> StatisticsTable:
    return StatisticsTable(np.arange(3), {}, torch.zeros(3, 0, dtype=torch.bool),
                           {"synflow": torch.tensor([1.0, 2.0, 3.0])})


def test_an_exported_proxy_that_raises_at_import_is_one_clear_error(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text(MODULE.format(expression="synflow", extra="1 / 0"))
    with pytest.raises(GreenmachineError, match=r"bad.py failed to import: ZeroDivisionError: division by zero"):
        load_exported(path)


@pytest.mark.parametrize("expression,message", [
    ("foo(synflow)", r"its EXPRESSION uses 'foo', which is neither a primitive nor one of its STATISTICS"),
    ("synflow +", r"its EXPRESSION is not a Python expression"),
])
def test_an_exported_proxy_with_a_bad_expression_is_refused_when_loaded(tmp_path, expression, message):
    path = tmp_path / "bad.py"
    path.write_text(MODULE.format(expression=expression, extra=""))
    with pytest.raises(GreenmachineError, match=message):
        load_exported(path)


def test_an_exported_proxy_that_raises_when_scored_is_one_clear_error(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text(MODULE.format(expression="safe_div(synflow)", extra=""))
    proxy = load_exported(path)
    with pytest.raises(GreenmachineError, match=r"proxy bad \(.*bad.py\) failed when scored: TypeError: "):
        proxy.evaluate(_table())
    path.write_text(MODULE.format(expression="safe_log(synflow)", extra=""))
    assert torch.allclose(load_exported(path).evaluate(_table()), torch.log(torch.tensor([1.0, 2.0, 3.0]) + 1e-12).double())


def test_an_exported_proxy_that_raises_is_one_clear_line_in_evaluate(cli, tmp_path):
    path = tmp_path / "bad.py"
    path.write_text(MODULE.format(expression="synflow", extra="raise RuntimeError('broken')"))
    code, err = cli("evaluate", f"proxies=[{path}]", "archs=8", "tracking=none")
    assert "bad.py failed to import: RuntimeError: broken" in _one_clear_line(code, err, "evaluate")
