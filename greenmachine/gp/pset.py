"""The typed DEAP primitive set of a run, its tree generator and the tree class the GP evolves.

A registered primitive is offered to DEAP once per signature. With one signature its DEAP name is
its own; with several, the name gets the argument types as a suffix (`add_ll` adds two per-layer
values, `add_ln` a per-layer and a per-network one, `add_nn` two per-network ones), because DEAP
names must be unique. `str(tree)` is therefore unambiguous and parses back with `parse_tree`.
"""

from __future__ import annotations

import functools
import keyword
import random
import re
from collections.abc import Sequence

from deap import base, gp

from greenmachine.errors import GreenmachineError, UnknownNameError
from greenmachine.gp.primitives import PRIMITIVES, PerLayer, PerNetwork, PrimitiveDef, Signature, random_constant

CONSTANT_NAME = "const"
RESERVED = frozenset({"mask", CONSTANT_NAME})
_TYPE_LETTER = {PerLayer: "l", PerNetwork: "n"}

# a partial of a module-level function pickles with the trees that hold constants (a lambda would not)
EPHEMERAL = functools.partial(random_constant, -1.0, 1.0, 2)


class FitnessMax(base.Fitness):
    """A single fitness value, larger is better (Kendall tau)."""

    weights = (1.0,)


class Individual(gp.PrimitiveTree):
    """A GP tree with a `fitness` attribute; module-level so it pickles and deep-copies (no deap.creator)."""

    def __init__(self, content):
        super().__init__(content)
        self.fitness = FitnessMax()


def deap_name(definition: PrimitiveDef, signature: Signature) -> str:
    """Return the DEAP name of `definition` offered with `signature` (see the module docstring)."""
    if len(definition.signatures) == 1:
        return definition.name
    return f"{definition.name}_{''.join(_TYPE_LETTER[t] for t in signature[0])}"


# DEAP name -> registered primitive, kept up to date as primitives are registered.
_BY_DEAP_NAME: dict[str, PrimitiveDef] = {}
PRIMITIVES.watch(lambda _, d: _BY_DEAP_NAME.update({deap_name(d, s): d for s in d.signatures}))


def definition_of(node: gp.Primitive) -> PrimitiveDef:
    """Return the registered primitive a DEAP primitive node stands for."""
    return _BY_DEAP_NAME[node.name]


def is_statistic(node: gp.Terminal) -> bool:
    """Return True when a terminal node reads a statistic (its value is the statistic's name), False for a constant."""
    return isinstance(node.value, str)


def build_pset(layer_statistics: Sequence[str], scalar_statistics: Sequence[str],
               primitives: Sequence[str] | None = None, terminals: Sequence[str] | None = None,
               constants: bool = True) -> gp.PrimitiveSetTyped:
    """Return the typed primitive set over the given statistics; programs return a per-network score.

    Args:
        layer_statistics: per-layer statistics available (terminals of type PerLayer).
        scalar_statistics: per-network statistics available (terminals of type PerNetwork).
        primitives: registered primitive names to offer; None = all.
        terminals: statistic names to offer; None = all available.
        constants: offer ephemeral constants (uniform in [-1, 1], 2 decimals) as per-network terminals.

    A primitive signature is offered only when every argument type has a terminal, so every tree
    the generator starts can be finished. Raises UnknownNameError for an unknown primitive or
    statistic, GreenmachineError for a statistic name that cannot appear in a program or a set
    that cannot build a per-network score.
    """
    available = list(layer_statistics) + list(scalar_statistics)
    for name in primitives or ():
        PRIMITIVES[name]  # raises UnknownNameError listing the valid names
    for name in terminals or ():
        if name not in available:
            raise UnknownNameError("statistic", name, available)
    chosen = [n for n in available if terminals is None or n in terminals]
    for name in chosen:
        if (not name.isidentifier() or keyword.iskeyword(name) or name in RESERVED or name in PRIMITIVES
                or name in _BY_DEAP_NAME):
            raise GreenmachineError(f"statistic {name!r} cannot be a program variable: it must be a Python "
                                    f"identifier other than {', '.join(sorted(RESERVED))} and the primitive names")
    types = [PerLayer if n in layer_statistics else PerNetwork for n in chosen]
    pset = gp.PrimitiveSetTyped("proxy", types, PerNetwork, prefix="stat")
    pset.renameArguments(**{f"stat{i}": name for i, name in enumerate(chosen)})
    if constants:
        pset.addEphemeralConstant(CONSTANT_NAME, EPHEMERAL, PerNetwork)
    has_terminal = {t: bool(pset.terminals[t]) for t in (PerLayer, PerNetwork)}
    for name, definition in PRIMITIVES.items():
        if primitives is not None and name not in primitives:
            continue
        for signature in definition.signatures:
            if all(has_terminal[t] for t in signature[0]):
                pset.addPrimitive(definition.function, list(signature[0]), signature[1],
                                  name=deap_name(definition, signature))
    if not has_terminal[PerNetwork] and not pset.primitives[PerNetwork]:
        raise GreenmachineError("these primitives and terminals cannot build a per-network score: allow a scalar "
                                "statistic or constants, or a reduction (e.g. mean_layers) with a per-layer statistic")
    return pset


def generate(pset: gp.PrimitiveSetTyped, min_height: int, max_height: int, method: str = "half",
             type_: type | None = None) -> list:
    """Return a random tree as prefix-ordered DEAP nodes, its height drawn from [min_height, max_height].

    Args:
        pset: the primitive set.
        min_height, max_height: bounds of the target height.
        method: `full` (every branch reaches the target height), `grow` (branches may stop early,
            with DEAP's terminal ratio) or `half` (either, at random).
        type_: the tree's return type; None = the set's.

    Unlike DEAP's generator it never fails: a type without terminals gets a primitive whose
    arguments all have terminals (the tree is then one level higher), and a type without
    primitives gets a terminal.
    """
    if method == "half":
        method = random.choice(("grow", "full"))
    height = random.randint(min_height, max_height)
    nodes: list = []
    stack = [(0, type_ or pset.ret)]
    while stack:
        depth, wanted = stack.pop()
        terminals, primitives = pset.terminals[wanted], pset.primitives[wanted]
        leaf = depth >= height or (method == "grow" and depth >= min_height and random.random() < pset.terminalRatio)
        if (leaf and terminals) or not primitives:
            node = random.choice(terminals)
            nodes.append(node() if isinstance(node, gp.MetaEphemeral) else node)
            continue
        if leaf:
            primitives = [p for p in primitives if all(pset.terminals[a] for a in p.args)] or primitives
        chosen = random.choice(primitives)
        nodes.append(chosen)
        stack.extend((depth + 1, arg) for arg in reversed(chosen.args))
    return nodes


def parse_tree(expression: str, pset: gp.PrimitiveSetTyped) -> gp.PrimitiveTree:
    """Return the tree whose `str` is `expression` (DEAP names, statistic names and numeric constants).

    Unlike DEAP's `from_string` it types constants as per-network values, as ephemeral constants of
    `pset` when it has them (so mutation can redraw them). Raises UnknownNameError for a name that
    is neither a primitive nor a statistic of `pset`, GreenmachineError for a malformed expression.
    """
    nodes: list = []
    expected: list[type] = [pset.ret]
    for token in filter(None, re.split(r"[\s(),]+", expression)):
        if not expected:
            raise GreenmachineError(f"expression {expression!r} has more arguments than its primitives take")
        wanted = expected.pop()
        if token in pset.mapping and not isinstance(pset.mapping[token], gp.MetaEphemeral):
            node = pset.mapping[token]
            if node.ret is not wanted:
                raise GreenmachineError(f"{token} returns {node.ret.__name__} where {expression!r} "
                                        f"needs {wanted.__name__}")
            nodes.append(node)
            expected.extend(reversed(getattr(node, "args", [])))
            continue
        try:
            value = float(token)
        except ValueError:
            names = [n for n, v in pset.mapping.items() if not isinstance(v, gp.MetaEphemeral)]
            raise UnknownNameError("primitive or statistic", token, names) from None
        if wanted is not PerNetwork:
            raise GreenmachineError(f"constant {token} stands where {expression!r} needs {wanted.__name__}")
        nodes.append(_constant(pset, value))
    if expected:
        raise GreenmachineError(f"expression {expression!r} lacks arguments")
    return gp.PrimitiveTree(nodes)


def _constant(pset: gp.PrimitiveSetTyped, value: float) -> gp.Terminal:
    """Return a per-network constant node: an instance of the set's ephemeral class if it has one."""
    ephemeral = pset.mapping.get(CONSTANT_NAME)
    if ephemeral is None:
        return gp.Terminal(value, False, PerNetwork)
    node = object.__new__(ephemeral)  # skips the random draw of __init__
    node.value = value
    return node
