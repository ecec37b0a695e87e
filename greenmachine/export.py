"""Proxy -> standalone Python module: the only code that writes discovered proxies out as source.

An exported module holds the formula (readable, simplified and as LaTeX, in its docstring), the
expression the GP evaluated, the statistics it reads, the settings and run it came from, and a
`score(net, inputs, targets=None)` that computes only those statistics on any PyTorch network. It
needs torch and numpy only: the greenmachine code it runs (`greenmachine.standalone`, the modules
that imports, and the passes of the statistics the proxy reads) is copied into it, module by
module, and installed under a private package name when it is imported.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import keyword
import re
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from greenmachine.errors import GreenmachineError
from greenmachine.statistics import PASSES, STATISTICS
from greenmachine.files import atomic_write_text
from greenmachine.statistics.engine import passes_for

RUNTIME = "greenmachine.standalone"
ROOT = "greenmachine"


@dataclass(frozen=True)
class ExportedProxy:
    """What an exported module records.

    Attributes:
        name: module and proxy name (a Python identifier).
        formula: readable math (`gp.render.to_math`).
        expression: the `gp.render.to_python` expression.
        statistics: statistics it reads.
        probe_seed: seed of the probe it was found with (its random draws derive from it).
        options: statistics pass settings of the search.
        origin: where it came from (run id, space, dataset, sampling, ...).
        taus: measured Kendall tau by evaluation set name.
        simplified: the formula simplified by sympy ("" = not given).
        latex: its LaTeX ("" = not given).
    """

    name: str
    formula: str
    expression: str
    statistics: tuple[str, ...]
    probe_seed: int
    options: Mapping[str, int]
    origin: Mapping[str, str] = field(default_factory=dict)
    taus: Mapping[str, float] = field(default_factory=dict)
    simplified: str = ""
    latex: str = ""


def proxy_name(text: str) -> str:
    """Return `text` made into a valid, non-keyword Python identifier."""
    name = re.sub(r"\W", "_", text.strip()).lower() or "proxy"
    name = f"p_{name}" if name[0].isdigit() or keyword.iskeyword(name) else name
    return name


def _source(module: str) -> str:
    """Return the source text of a greenmachine module."""
    spec = importlib.util.find_spec(module)
    return Path(spec.origin).read_text()


def _is_type_checking(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def module_imports(module: str) -> list[str]:
    """Return the greenmachine modules `module` imports when it runs (imports under `if TYPE_CHECKING:` skipped).

    Raises GreenmachineError for an import the inlined copy could not serve: `import greenmachine.x`
    (the code would refer to the name `greenmachine`) or an import from a package's `__init__`.
    """
    found: list[str] = []
    stack: list[ast.AST] = [ast.parse(_source(module))]
    while stack:
        node = stack.pop()
        if _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == ROOT for a in node.names):
            raise GreenmachineError(f"{module} imports greenmachine with `import`; an exported proxy can inline only "
                                    "`from greenmachine.<module> import ...`")
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == ROOT:
            spec = importlib.util.find_spec(node.module)
            if spec.submodule_search_locations is not None:
                raise GreenmachineError(f"{module} imports from the package {node.module}; an exported proxy inlines "
                                        "modules, not packages: import from the module that defines the name")
            found.append(node.module)
    return list(dict.fromkeys(found))


def inlined_modules(statistics: Iterable[str]) -> list[str]:
    """Return the greenmachine modules an exported proxy reading `statistics` runs, in the order they must run.

    The passes' modules come in their registration order (so the inlined registry lists the passes
    as greenmachine's does), each after the modules it imports; `greenmachine.standalone` comes last.
    """
    roots = list(dict.fromkeys(PASSES[p].run.__module__ for p in passes_for(statistics))) + [RUNTIME]
    order: list[str] = []
    visiting: set[str] = set()

    def visit(module: str) -> None:
        if module in order or module in visiting:
            return
        visiting.add(module)
        for dependency in module_imports(module):
            visit(dependency)
        order.append(module)

    for root in roots:
        visit(root)
    return order


_IMPORT = re.compile(rf"^(\s*from\s+){ROOT}\.", re.MULTILINE)


def _literal(source: str) -> str:
    """Return a Python string literal of `source`: a readable raw triple-quoted one where that is exact."""
    if "'''" not in source and not source.endswith("\\"):
        literal = "r'''" + source + "'''"
        if ast.literal_eval(literal) == source:
            return literal
    return repr(source)


def _inlined_block(statistics: Iterable[str]) -> str:
    """Return the source of the inlined greenmachine modules and of `_install`, which runs them under a private package."""
    modules = inlined_modules(statistics)
    sources = {m: _source(m) for m in modules}
    digest = hashlib.sha256("".join(f"{m}\n{s}" for m, s in sources.items()).encode()).hexdigest()[:12]
    package = f"_greenmachine_inlined_{digest}"
    entries = []
    for module, source in sources.items():
        rewritten = _IMPORT.sub(rf"\g<1>{package}.", source)
        left = [n.module for n in ast.walk(ast.parse(rewritten)) if isinstance(n, ast.ImportFrom)
                and n.level == 0 and (n.module or "").split(".")[0] == ROOT]
        if left:
            raise GreenmachineError(f"could not rewrite {module}'s import of {left[0]} for inlining")
        entries.append(f"    ({module.removeprefix(ROOT + '.')!r}, {_literal(rewritten)}),")
    return INSTALLER.format(package=package, modules="\n".join(entries))


INSTALLER = '''

# ---------------------------------------------------------------------------------------------------
# The greenmachine code this proxy runs, copied from greenmachine when it was exported. `_install`
# runs each module, in this order, as `{package}.<module>` (once per process), so this file needs
# only torch and numpy.

_PACKAGE = {package!r}
_MODULES = (  # (module, source)
{modules}
)


def _install():
    """Return the inlined greenmachine.standalone, running the inlined modules first if this process has not."""
    import linecache
    import sys
    import types

    runtime = _PACKAGE + ".standalone"
    if runtime in sys.modules:
        return sys.modules[runtime]
    try:
        for name, source in _MODULES:
            parts = (_PACKAGE + "." + name).split(".")
            for depth in range(1, len(parts)):
                package = ".".join(parts[:depth])
                if package not in sys.modules:
                    sys.modules[package] = types.ModuleType(package)
                    sys.modules[package].__path__ = []
                    if depth > 1:
                        setattr(sys.modules[".".join(parts[:depth - 1])], parts[depth - 1], sys.modules[package])
            module = types.ModuleType(".".join(parts))
            module.__package__, module.__file__ = ".".join(parts[:-1]), "<" + ".".join(parts) + ">"
            sys.modules[module.__name__] = module
            linecache.cache[module.__file__] = (len(source), None, source.splitlines(True), module.__file__)
            exec(compile(source, module.__file__, "exec"), module.__dict__)
            setattr(sys.modules[module.__package__], parts[-1], module)
    except BaseException:
        for key in [k for k in sys.modules if k == _PACKAGE or k.startswith(_PACKAGE + ".")]:
            del sys.modules[key]
        raise
    return sys.modules[runtime]


_runtime = _install()
'''


def _wrapped(label: str, text: str) -> str:
    return "\n".join(textwrap.wrap(text, 96, initial_indent=f"{label}\n    ", subsequent_indent="    ",
                                   break_long_words=False, break_on_hyphens=False))


def render_module(proxy: ExportedProxy) -> str:
    """Return the source of the standalone module of `proxy` (see the module docstring)."""
    for name in proxy.statistics:
        STATISTICS[name]  # raises, listing the valid statistics
    origin = "\n".join(f"    {k}: {v}" for k, v in proxy.origin.items()) or "    (not recorded)"
    taus = "\n".join(f"    {k}: {v:.4f}" for k, v in proxy.taus.items()) or "    (not measured)"
    formulas = [_wrapped("Formula (sum_l, mean_l, ... reduce over a network's weighted layers, in forward order):",
                         proxy.formula)]
    if proxy.simplified:
        formulas.append(_wrapped("Simplified (sympy; the code protects log, division and sqrt, see EXPRESSION):",
                                 proxy.simplified))
    if proxy.latex:
        formulas.append(_wrapped("LaTeX:", proxy.latex))
    passes = ", ".join(passes_for(proxy.statistics))
    docstring = "\n\n".join([
        f"{proxy.name}: a zero-cost proxy discovered by greenmachine (larger score = predicted better).",
        *formulas,
        f"Found by:\n{origin}",
        f"Kendall tau measured:\n{taus}",
        f"Statistics read: {', '.join(proxy.statistics)}.",
        f"Standalone: needs torch and numpy only; the greenmachine code it runs (primitives, the {passes} "
        "statistics passes) is inlined at the end of this file.",
    ])
    docstring = docstring.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    header = f'''"""{docstring}
"""

from __future__ import annotations

NAME = {proxy.name!r}
EXPRESSION = {proxy.expression!r}
STATISTICS = {tuple(proxy.statistics)!r}
PROBE_SEED = {proxy.probe_seed!r}
OPTIONS = {dict(proxy.options)!r}  # statistics pass settings it was found with
FORMULA = {proxy.formula!r}
LATEX = {proxy.latex!r}


def score(net, inputs, targets=None) -> float:
    """Return the proxy's score of the untrained network `net` on probe images `inputs` [B, C, H, W].

    `targets` (labels, int [B]) are needed only when a statistic read depends on labels.
    """
    return _runtime.score_expression(net, inputs, targets, EXPRESSION, STATISTICS, PROBE_SEED, OPTIONS)
'''
    return header + _inlined_block(proxy.statistics)


def write_module(proxy: ExportedProxy, folder: str | Path) -> Path:
    """Write `proxy`'s module as `<folder>/<name>.py` (atomically) and return its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{proxy.name}.py"
    atomic_write_text(path, render_module(proxy))
    return path

