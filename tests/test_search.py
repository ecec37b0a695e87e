"""A search's files read back (a damaged report.json is named with what to do), and its best-baseline fitness line."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from greenmachine.commands import COMMANDS
from greenmachine.correlations import Correlation
from greenmachine.errors import CorruptFileError
from greenmachine.measurement import best_baseline_fitness
from greenmachine.search_record import ProxyRow
from greenmachine.statistics.table import StatisticsTable


@pytest.mark.parametrize("content", ["", '{"options": {}, "tasks": [{"name": "nats_tss/cifar10"', "[]", '{"proxies": []}'])
def test_export_names_a_damaged_report(tmp_path, content):
    report = tmp_path / "report.json"
    report.write_text(content)
    cfg = OmegaConf.create({"run": str(tmp_path), "out": None, "prefix": "", "top": 0, "proxy": None, "name": None})
    with pytest.raises(CorruptFileError, match=rf"{report} is corrupt \(.*\); rerun the search in its folder"):
        COMMANDS["export"].run(cfg)


def test_search_defaults_are_the_commands(tmp_path):
    """Search() and `greenmachine search` with no overrides have the same settings, and so have their lean presets."""
    from hydra import compose, initialize_config_module

    from greenmachine import Search
    from greenmachine.commands.search import settings_of
    from greenmachine.search_settings import SearchSettings

    with initialize_config_module("greenmachine.conf", version_base="1.3"):
        default = settings_of(compose("search"))
        lean = settings_of(compose("search", ["statistics=lean", "sampling=random", "seed=3"]))
    assert default == SearchSettings() == Search(tracking=False).settings
    assert lean.options == Search(statistics="lean", tracking=False).settings.options != SearchSettings().options
    assert lean.gp.seed == lean.sampling.seed == 3 and lean.sampling.strategy == "random"
    assert SearchSettings.from_dict(json.loads(json.dumps(lean.to_dict()))) == lean


def test_every_primitive_declares_its_mathematical_form():
    from greenmachine.formula import to_sympy
    from greenmachine.gp.primitives import PRIMITIVES

    for name, definition in PRIMITIVES.items():
        assert definition.symbolic is not None, f"primitive {name} has no symbolic form"
        arguments = ["a_layer", "mask"] if definition.needs_mask else ["a", "b"][:len(definition.signatures[0][0])]
        assert to_sympy(f"{name}({', '.join(arguments)})", simplify=False).free_symbols


def test_formulas_read_as_mathematics():
    import sympy

    from greenmachine.formula import readable, statistics_of, to_sympy

    a, b = sympy.Symbol("a", real=True), sympy.Symbol("b", real=True)
    assert to_sympy("safe_log(safe_div(a, const(-0.5)))") == sympy.log(sympy.Abs(a)) + sympy.Float(np.log(2), 4)
    assert to_sympy("add(mul(a, b), mul(b, a))") == 2 * a * b
    text, latex = readable("sum_layers(mul(snip_layer, params), mask)")
    assert text == "sum_l(params*snip_layer)" and latex == r"\operatorname{sum}_{l}\left(\mathrm{params} \mathrm{snip\_layer}\right)"
    assert statistics_of("add(sum_layers(snip_layer, mask), const(1.0))") == ("snip_layer",)


@pytest.mark.slow
def test_a_search_from_python_reloads_and_reads_like_a_notebook(tmp_path, monkeypatch):
    """Search(...).run() on a tiny task, Search.load, .hall_of_fame, .pareto(), .latex(); its proxy runs standalone."""
    from greenmachine import Search
    from greenmachine.benchmark import SampleProtocol
    from greenmachine.config import ProbeConfig
    from greenmachine.gp import GPConfig
    from greenmachine.proxies.expression import score_network
    from greenmachine.statistics import StatisticsOptions
    from tests.test_export import load_module, score_without_greenmachine, small_cnn

    monkeypatch.setenv("GREENMACHINE_CACHE", str(tmp_path / "cache"))
    stops = []

    def stop_after_2(record, state):
        stops.append(record.generation)
        return record.generation == 2

    tiny = dict(sampling=SampleProtocol(n=16, holdout_n=8), evaluation_size=16, probe=ProbeConfig(batch_size=8),
                statistics="lean", gp=GPConfig(population=40, generations=3), tracking=False, workers=1,
                progress=False)
    out = tmp_path / "run"
    interrupted = Search("nats_tss", "cifar10", out=out, callbacks=[stop_after_2], **tiny).run()
    assert stops == [0, 1, 2] and len(interrupted.result.log) == 3

    search = Search.load(out, workers=1, progress=False, tracking=False).run()  # resumes at generation 3
    assert [r["generation"] for r in search.record.log] == [0, 1, 2, 3]
    uri = f"sqlite:///{tmp_path / 'mlruns.db'}"
    fresh = Search("nats_tss", "cifar10", out=tmp_path / "fresh", **{**tiny, "tracking": True, "tracking_uri": uri}).run()
    assert search.hall_of_fame.equals(fresh.hall_of_fame)  # a stopped and resumed search ends as one run

    # its MLflow run: named with its headline, the best formula as sympy's LaTeX, labelled joules, wall time
    import mlflow

    run = mlflow.MlflowClient(uri).get_run(fresh.record.origin["run_id"])
    tau = run.data.metrics["evaluation_tau"]
    assert run.info.run_name == f"search nats_tss/cifar10 · stratified n=16 · pop 40 · seed 0 · eval tau {tau:.3f}"
    tags = run.data.tags
    assert tags["command"] == "search" and tags["command_line"] == "greenmachine.Search (Python)"
    assert tags["best_formula_latex"] == fresh.latex() and tags["best_formula"] == fresh.proxy().formula
    assert f"$${fresh.latex()}$$" in tags["mlflow.note.content"]
    metrics = run.data.metrics
    assert 0 < metrics["prepare_seconds"] < metrics["wall_seconds"]
    assert any(k.startswith("search_joules_") for k in metrics) and any(k.startswith("statistics_joules_") for k in metrics)

    loaded = Search.load(out)
    frame = loaded.hall_of_fame
    assert frame.equals(search.hall_of_fame) and list(frame["rank"]) == list(range(1, len(frame) + 1))
    for column in ("formula", "simplified", "latex", "size", "fitness", "nats_tss/cifar10:evaluation:kendall",
                   "nats_tss/cifar10:holdout:spearman", "nats_tss/cifar10:search:top10", "seconds_per_arch"):
        assert column in frame.columns
    assert frame["seconds_per_arch"].gt(0).all()
    assert frame["fitness"].iloc[0] == pytest.approx(frame["nats_tss/cifar10:search:kendall"].iloc[0], abs=1e-9)
    front = loaded.pareto()
    assert list(front["size"]) == sorted(front["size"]) and front["fitness"].is_monotonic_increasing
    assert front["fitness"].iloc[-1] == frame["fitness"].iloc[0]
    assert loaded.latex() == frame["latex"].iloc[0] and loaded.latex().strip()
    assert str(loaded.sympy()) == frame["simplified"].iloc[0]
    assert f"$$ {loaded.latex()} $$" in (out / "report.md").read_text()

    # its exported proxy imports and scores a network where greenmachine cannot be imported
    module_path = out / "proxies" / "proxy_1.py"
    module = load_module(module_path)
    net = small_cnn(5)
    inputs = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    standalone = score_without_greenmachine(module_path, net, inputs, None, tmp_path)
    assert standalone == score_network(net, inputs, None, module.EXPRESSION, module.STATISTICS, module.PROBE_SEED,
                                       StatisticsOptions(**module.OPTIONS))


def _task(name: str):
    table = StatisticsTable(np.arange(3), {}, torch.zeros(3, 0, dtype=torch.bool), {"synflow": torch.arange(3.0)})
    return SimpleNamespace(name=name, subset=lambda s: (table, np.arange(3.0)))


def test_the_best_baseline_line_combines_taus_as_the_search_fitness_does():
    def row(name, taus, kind="baseline"):
        return ProxyRow(name, kind, name, name, 1, {t: {"search": Correlation(tau, tau, 1.0, 3)} for t, tau in taus.items()})

    rows = [row("proxy_1", {"a": 0.9, "b": 0.9}, "found"), row("steady", {"a": 0.5, "b": 0.5}),
            row("peaky", {"a": 0.8, "b": 0.1}), row("flat", {"a": math.nan, "b": math.nan})]
    a, b = _task("a"), _task("b")
    assert best_baseline_fitness(rows, [a], "kendall") == ("peaky", 0.8)
    assert best_baseline_fitness(rows, [a, b], "mean_kendall") == ("steady", 0.5)
    assert best_baseline_fitness(rows, [a, b], "min_kendall") == ("steady", 0.5)
    assert best_baseline_fitness(rows[:1] + rows[3:], [a], "kendall") is None
