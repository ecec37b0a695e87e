"""Spaces from outside the package: the contract, its errors, entry points, config targets and the worked example."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import greenmachine as gm
from greenmachine.benchmark import fixed_holdout, load_benchmark
from greenmachine.datasets import DATASETS
from greenmachine.errors import UnknownNameError
from greenmachine.spaces import (SPACES, ArchStringError, PluginError, discover, get_space, register_space,
                                space_from_config)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "experiments" / "plugin_space"
TARGET = f"{EXAMPLE / 'tiny_cnn.py'}:TinyCNN"


@pytest.fixture(autouse=True)
def isolated_registries():
    """Give each test the registries as they were, so plug-ins registered here do not leak into other tests."""
    discover()
    spaces, datasets = dict(SPACES._items), dict(DATASETS._items)
    yield
    SPACES._items.clear()
    SPACES._items.update(spaces)
    DATASETS._items.clear()
    DATASETS._items.update(datasets)


class Tiny:
    """A complete minimal plug-in: three archs, a builder and a CSV written by the test."""

    name = "tiny_test"
    archs = ["w4", "w8", "w16"]

    def __init__(self, accuracies):
        self.accuracies = accuracies

    def build(self, arch, dataset):
        width = int(arch[1:])
        return nn.Sequential(nn.Conv2d(3, width, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10))


def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("arch,dataset,epochs,test_acc\n" + "\n".join(rows) + "\n")
    return path


def test_a_minimal_plugin_is_a_space_with_ground_truth(tmp_path):
    csv = write_csv(tmp_path / "acc.csv", ["w4,cifar10,10,50.5", "w8,cifar10,10,60", "w16,cifar10,10,70.25"])
    space = register_space(Tiny(str(csv)), "test")
    assert get_space("tiny_test") is space and space.size == 3 and space.kind == "plugin"
    assert space.resolve("w8") == (1, "w8") and space.resolve(2) == (2, "w16")
    assert space.target() == space.target("cifar10", "test", 10)
    bench = load_benchmark("tiny_test")
    assert bench.accuracies("cifar10").tolist() == [50.5, 60.0, 70.25]
    assert bench.accuracy("w16", "cifar10") == 70.25
    assert fixed_holdout(bench).tolist() == [fixed_holdout(bench).item()]  # a third of 3 archs: one
    net = gm.build_network("tiny_test", "w8", "cifar10")
    assert gm.score(net, torch.randn(4, 3, 32, 32), proxies=["params"])["params"] == pytest.approx(
        sum(p.numel() for p in net.parameters()) / 1e6)
    with pytest.raises(ArchStringError, match=r"'w32' is not an arch of tiny_test: it lists 3 archs, e.g. 'w4'"):
        space.resolve("w32")
    with pytest.raises(UnknownNameError, match=r"unknown dataset of tiny_test 'cifar100'; valid: cifar10"):
        space.build("w4", "cifar100")


def test_a_callable_ground_truth_and_a_dataset_greenmachine_does_not_know(tmp_path):
    plugin = Tiny(lambda arch, dataset: float(int(arch[1:])))
    plugin.datasets = {"my_images": {"num_classes": 10, "resolution": 24}}
    space = register_space(plugin, "test")
    assert space.dataset_info("my_images").resolution == 24 and DATASETS["my_images"].num_classes == 10
    assert load_benchmark("tiny_test").accuracies("my_images").tolist() == [4.0, 8.0, 16.0]


def test_unknown_space_lists_every_registered_space_plugins_included(tmp_path):
    register_space(Tiny(str(write_csv(tmp_path / "a.csv", ["w4,cifar10,1,1", "w8,cifar10,1,2", "w16,cifar10,1,3"]))), "test")
    with pytest.raises(UnknownNameError) as error:
        get_space("nats_xyz")
    assert "unknown space 'nats_xyz'; valid:" in str(error.value)
    for name in ("nats_tss", "nats_sss", "nas_bench_macro", "transnas_micro", "nasbench101", "tiny_test"):
        assert name in str(error.value)


@pytest.mark.parametrize(("change", "message"), [
    ("del build", r"lacks build; a plug-in needs name \(str\), archs"),
    ("del accuracies_attr", r"lacks accuracies"),
    ("archs = ['a', 'a']", r"arch 'a' is listed more than once"),
    ("archs = 'w4'", r"archs must be a non-empty list of arch strings"),
    ("name = ''", r"name=''; valid: a non-empty string"),
])
def test_a_plugin_that_lacks_part_of_the_contract_is_refused(tmp_path, change, message):
    attrs = {"name": "broken", "archs": ["w4"], "build": lambda a, d: nn.Linear(1, 1), "accuracies": lambda a, d: 1.0}
    if change.startswith("del "):
        attrs.pop(change[4:].removesuffix("_attr"))
    else:
        key, value = change.split(" = ")
        attrs[key] = eval(value)
    plugin = type("Broken", (), {k: staticmethod(v) if callable(v) else v for k, v in attrs.items()})()
    with pytest.raises(PluginError, match=message):
        register_space(plugin, "test")


@pytest.mark.parametrize(("rows", "message"), [
    (["w4,cifar10,1,50", "w8,cifar10,1,", "w16,cifar10,1,70"], r"line 3 \(arch 'w8'\): test_acc is empty; every test_acc must be a number"),
    (["w4,cifar10,1,50", "w8,cifar10,1,high", "w16,cifar10,1,70"], r"line 3 \(arch 'w8'\): test_acc = 'high' is not a number"),
    (["w4,cifar10,1,50", "w8,cifar10,1,60"], r"has no cifar10 test_acc for 1 of its 3 archs, e.g. 'w16'"),
    (["w4,cifar10,1,50", "w8,cifar10,1,60", "w16,cifar10,1,70", "w32,cifar10,1,80"], r"names 1 arch\(s\) that 'tiny_test' does not list, e.g. 'w32'"),
    (["w4,cifar10,1,50", "w4,cifar10,1,51", "w8,cifar10,1,60", "w16,cifar10,1,70"], r"line 3: a second row for arch 'w4'"),
])
def test_a_bad_accuracy_table_names_the_file_the_line_and_what_is_valid(tmp_path, rows, message):
    csv = write_csv(tmp_path / "acc.csv", rows)
    with pytest.raises(PluginError, match=message):
        register_space(Tiny(str(csv)), "test")
        load_benchmark("tiny_test")


def test_a_table_without_the_needed_columns_and_a_callable_that_returns_nan(tmp_path):
    (tmp_path / "acc.csv").write_text("arch,accuracy\nw4,50\n")
    with pytest.raises(PluginError, match=r"lacks the column\(s\) dataset, test_acc; it needs arch, dataset, test_acc"):
        register_space(Tiny(str(tmp_path / "acc.csv")), "test")
    plugin = Tiny(lambda arch, dataset: float("nan") if arch == "w8" else 1.0)
    plugin.datasets = ["cifar10"]
    register_space(plugin, "test")
    with pytest.raises(PluginError, match=r"accuracies\('w8', 'cifar10'\) returned nan; valid: a finite accuracy"):
        load_benchmark("tiny_test")


def test_a_config_target_registers_once_and_names_what_failed():
    space = space_from_config({"name": None, "_target_": TARGET})
    assert space.name == "tiny_cnn" and space.size == 18 and space_from_config({"_target_": TARGET}) is space
    assert space.origin.startswith("config _target_")
    with pytest.raises(PluginError, match=r"has no 'Nope'; it has .*TinyCNN"):
        space_from_config({"_target_": f"{EXAMPLE / 'tiny_cnn.py'}:Nope"})
    with pytest.raises(PluginError, match=r"no file .*missing.py"):
        space_from_config({"_target_": "missing.py:X"})
    with pytest.raises(PluginError, match=r"importing 'no_such_module' failed"):
        space_from_config({"_target_": "no_such_module.Space"})
    with pytest.raises(PluginError, match=r"names no space: set space=<name> \(.*nats_tss"):
        space_from_config({"name": None, "_target_": None})


def test_every_built_in_space_is_one_module_with_its_config_file():
    from greenmachine.spaces import all_spaces

    built_in = [s for s in all_spaces() if s.origin.startswith("built in")]
    assert {s.name for s in built_in} >= {"nats_tss", "nats_sss", "nas_bench_macro", "transnas_micro", "nasbench101"}
    for space in built_in:
        assert (ROOT / "conf" / "space" / f"{space.name}.yaml").read_text().count(f"name: {space.name}") == 1


def run_python(code: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, capture_output=True, text=True,
                            timeout=600, env={**os.environ, **(env or {})})
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_a_new_space_is_one_module_and_one_yaml_file(tmp_path):
    """Drop a module into the spaces package's path and a YAML into a config folder: every command sees the space."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "wide_mlp.py").write_text(textwrap.dedent('''
        import numpy as np
        from torch import nn
        from greenmachine.benchmark.base import Benchmark
        from greenmachine.spaces.base import SearchSpace, SpaceDataset
        from greenmachine.spaces.cell import ArchStringError
        from greenmachine.spaces.registry import builtin_space

        @builtin_space
        class WideConv(SearchSpace):
            name = "wide_conv"
            size = 12
            kind = "width"
            datasets = (SpaceDataset("cifar10", "test", 1),)

            def arch_string(self, index):
                return f"w{4 * (self.check_index(index) + 1)}"

            def index_of(self, arch_str):
                if not (arch_str[:1] == "w" and arch_str[1:].isdigit() and int(arch_str[1:]) in range(4, 49, 4)):
                    raise ArchStringError(f"{arch_str!r} is not a wide_conv arch: 'w4', 'w8', ..., 'w48'")
                return int(arch_str[1:]) // 4 - 1

            def _build(self, arch_str, num_classes):
                w = int(arch_str[1:])
                return nn.Sequential(nn.Conv2d(3, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(),
                                     nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(w, num_classes))

            def load_benchmark(self, data=None, allow_partial=False):
                accuracy = 50 + np.log(np.arange(1, 13, dtype=np.float64))  # wider is better, by construction
                return Benchmark(self.name, {("cifar10", "test", 1): accuracy}, "wide_conv (synthetic)")
    '''))
    (tmp_path / "conf" / "space").mkdir(parents=True)
    (tmp_path / "conf" / "space" / "wide_conv.yaml").write_text("name: wide_conv\n")
    out = tmp_path / "out"
    run_python(f'''
        import sys
        import greenmachine.spaces as spaces
        spaces.__path__.append({str(tmp_path / "pkg")!r})
        from greenmachine.cli import main
        sys.exit(main(["evaluate", "space=wide_conv", "archs=all", "proxies=[params,synflow]", "workers=1",
                       "progress=false", "tracking=none", "probe.batch_size=4",
                       "hydra.searchpath=[file://{tmp_path / "conf"}]", "hydra.run.dir={out}"]))
    ''', tmp_path)
    league = (out / "league.md").read_text()
    assert "wide_conv cifar10 (test, 1 epochs), 12 archs" in league and "| params | 1.000 |" in league


def test_an_entry_point_space_is_found_and_info_lists_its_origin(tmp_path):
    (tmp_path / "demo_space_pkg.py").write_text(f"import sys\nsys.path.insert(0, {str(EXAMPLE)!r})\nfrom tiny_cnn import TinyCNN\n")
    dist = tmp_path / "demo_space_pkg-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-space-pkg\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[greenmachine.spaces]\ntiny_cnn = demo_space_pkg:TinyCNN\n")
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    out = run_python("from greenmachine.cli import main; main(['info'])", tmp_path, env).stdout
    assert "space tiny_cnn" in out and "entry point 'tiny_cnn' (demo_space_pkg:TinyCNN, package demo-space-pkg)" in out
    run_python("""
        from greenmachine.spaces import get_space
        assert get_space("tiny_cnn").size == 18
    """, tmp_path, env)


@pytest.mark.slow
def test_the_worked_example_runs_every_command(tmp_path):
    """The README's plug-in example from a clean folder: cache, evaluate, search, ensemble and score."""
    common = [f"space={TARGET}", "workers=1", "progress=false", "probe.batch_size=8", "statistics=lean",
              f"cache_dir={tmp_path / 'cache'}"]
    cli = [sys.executable, "-m", "greenmachine"]

    def run(*args):
        result = subprocess.run([*cli, *args], cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    assert "18 archs computed" in run("cache", "archs=all", *common)
    league = run("evaluate", "archs=all", "proxies=[synflow,meco_opt,params,gm_general_cells]", "tracking=none",
                 f"hydra.run.dir={tmp_path / 'evaluate'}", *common)
    assert "tiny_cnn cifar10 (test, 15 epochs), 18 archs (all)" in league and "| params |" in league
    found = run("search", "sampling.n=8", "sampling.holdout_n=4", "gp.population=20", "gp.generations=2",
                "tracking=none", f"hydra.run.dir={tmp_path / 'search'}", *common)
    assert "best proxy on tiny_cnn/cifar10" in found and (tmp_path / "search" / "report.md").is_file()
    forest = run("ensemble", "train=10", "trees=20", "proxies=[synflow,params,l2_norm]", "tracking=none",
                 f"hydra.run.dir={tmp_path / 'ensemble'}", *common)
    assert "Trained on 10 archs, evaluated on the 6-arch evaluation holdout" in forest
    bad = subprocess.run([*cli, "evaluate", f"space={TARGET}", "archs=[plain-4-9]", "tracking=none"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "'plain-4-9' is not an arch of tiny_cnn: it lists 18 archs" in bad.stderr


@pytest.mark.parametrize(("space", "n", "holdout"), [("nas_bench_macro", 300, 200), ("transnas_micro", 300, 200),
                                                     ("nasbench101", 100, 60)])
def test_samples_and_holdouts_work_on_every_new_space(space, n, holdout):
    from greenmachine.benchmark import SampleProtocol, draw_sample
    from greenmachine.tasks import draw_task_sets

    bench = load_benchmark(space)
    target = get_space(space).target()
    evaluation = fixed_holdout(bench)
    assert len(evaluation) == get_space(space).size // 3
    for strategy in ("random", "stratified"):
        protocol = SampleProtocol(strategy=strategy, n=n, holdout_n=holdout, unique=True, drop_broken=True)
        sample, held = draw_task_sets(bench, target.dataset, target.metric, target.epochs, protocol, None)
        assert held.tolist() == evaluation.tolist()
        sets = [set(sample.search.tolist()), set(sample.holdout.tolist()), set(held.tolist())]
        assert len(sample.search) == n and len(sample.holdout) == holdout
        assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
        keys = [get_space(space).unique_key(get_space(space).arch_string(int(a))) for a in sample.search]
        assert len(set(keys)) == len(keys)  # one arch per isomorphism class
    too_many = SampleProtocol(strategy="random", n=get_space(space).size + 1, holdout_n=0)
    with pytest.raises(Exception, match=r"cannot draw \d+ search archs: only \d+ are available"):
        draw_sample(bench, too_many)
