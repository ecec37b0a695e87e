"""Trees as text: a readable formula, an executable Python expression, and the statistics they read."""

from __future__ import annotations

from collections.abc import Callable

from deap import gp

from greenmachine.gp.pset import definition_of, is_statistic
from greenmachine.gp.primitives import PrimitiveDef


def _fold(tree: gp.PrimitiveTree, leaf: Callable[[gp.Terminal], str],
          call: Callable[[PrimitiveDef, list[str]], str]) -> str:
    """Return the text of `tree` built bottom-up: `leaf(node)` for terminals, `call(primitive, arguments)` otherwise."""
    stack: list[tuple[object, list[str]]] = []
    text = ""
    for node in tree:
        stack.append((node, []))
        while len(stack[-1][1]) == stack[-1][0].arity:
            node, arguments = stack.pop()
            text = call(definition_of(node), arguments) if isinstance(node, gp.Primitive) else leaf(node)
            if not stack:
                return text
            stack[-1][1].append(text)
    return text


def to_python(tree: gp.PrimitiveTree) -> str:
    """Return a Python expression computing the tree's scores.

    Evaluated in a namespace holding `greenmachine.gp.primitives`' registered functions (by their
    registered names) and `const`, each statistic bound as `evaluate.bind` lays it out (per-layer
    float32 [L, N], per-network float32 [1, N]) and `mask` bound to the table's LayerMask, it gives
    exactly what the compiled program gives: float32 [1, N] (0-dim for a constant tree).
    """

    def leaf(node: gp.Terminal) -> str:
        return node.value if is_statistic(node) else f"const({float(node.value)!r})"

    def call(definition: PrimitiveDef, arguments: list[str]) -> str:
        return f"{definition.name}({', '.join(arguments + ['mask'] if definition.needs_mask else arguments)})"

    return _fold(tree, leaf, call)


def to_math(tree: gp.PrimitiveTree) -> str:
    """Return a readable formula of the tree (sum_l, mean_l, ... reduce over a network's layers)."""

    def leaf(node: gp.Terminal) -> str:
        return node.value if is_statistic(node) else f"{float(node.value):g}"

    def call(definition: PrimitiveDef, arguments: list[str]) -> str:
        return definition.math.format(*arguments)

    text = _fold(tree, leaf, call)
    if text.startswith("(") and _closing_paren(text) == len(text) - 1:
        return text[1:-1]
    return text


def _closing_paren(text: str) -> int:
    """Return the index of the parenthesis closing the one at text[0]."""
    depth = 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return i
    return -1


def terminals_of(tree: gp.PrimitiveTree) -> set[str]:
    """Return the names of the statistics the tree reads."""
    return {node.value for node in tree if isinstance(node, gp.Terminal) and is_statistic(node)}
