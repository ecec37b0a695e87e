"""Run trees on a whole table at once, one tensor pass per primitive.

An `Evaluator` interns subtrees: the key of a node is its DEAP name and its arguments' ids, so equal
subtrees of any trees it runs share one id. It remembers the per-network values (one number per
arch) of the subtrees it computed lately, in a cache of bounded size (least recently used dropped
first), so a reduction shared by many programs (an offspring and its parent, crossover partners, an
elite and its variants) runs once while it is remembered. Per-layer values are not kept: on a CPU,
keeping them too cut primitive calls further but made a search's evaluations slower (memory traffic
beyond the processor's caches; docs/performance_gp.md). Primitives never modify their arguments, so
a remembered value is reused as it is: a tree's scores are bit for bit those of running it alone.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import torch
from deap import gp

from greenmachine.errors import UnknownNameError
from greenmachine.gp.primitives import PRIMITIVES, LayerMask, const
from greenmachine.gp.pset import definition_of, is_statistic
from greenmachine.gp.render import terminals_of, to_python
from greenmachine.statistics.table import StatisticsTable

NAMESPACE: dict[str, object] = {"const": const, **{name: d.function for name, d in PRIMITIVES.items()}}
"""What `to_python` expressions are evaluated with (plus the bound statistics and `mask`)."""

CACHE_BYTES = 64 * 2 ** 20
"""Most bytes of per-network subtree values an Evaluator remembers (16,384 values of 1,000 archs)."""

MAX_SUBTREES = 200_000
"""Most distinct subtrees an Evaluator interns before it forgets them all and starts again (bounds its memory)."""


@dataclass(frozen=True)
class ProgramInputs:
    """A statistics table laid out for programs (layer-major, float32, on the table's device).

    Attributes:
        values: statistic name -> per-layer values [L, N] or per-network values [1, N].
        mask: which layers exist (None for inputs that only constant trees can run on).
        size: N, the number of archs.
    """

    values: dict[str, torch.Tensor]
    mask: LayerMask | None
    size: int


def bind(table: StatisticsTable) -> ProgramInputs:
    """Return `table` laid out for programs (see ProgramInputs)."""
    n = len(table)
    values = {name: v.t().contiguous().to(torch.float32) for name, v in table.layer.items()}
    values.update({name: v.reshape(1, n).to(torch.float32) for name, v in table.scalar.items()})
    return ProgramInputs(values, LayerMask.of(table.mask), n)


class Evaluator:
    """Scores trees on one table, reusing the per-network values of the subtrees it computed lately.

    Args:
        inputs: the table, bound for programs.
        budget: most bytes of per-network subtree values kept between trees (0: remember nothing).

    Attributes:
        computed: primitive calls made so far; reused: subtree values answered from the cache.
    """

    def __init__(self, inputs: ProgramInputs, budget: int = CACHE_BYTES):
        self.inputs = inputs
        self.budget = budget
        self.computed = 0
        self.reused = 0
        self._ids: dict[tuple, int] = {}
        # per id: a leaf's tensor, or (primitive function, whether it takes the mask, argument ids)
        self._steps: list[torch.Tensor | tuple] = []
        self._cache: OrderedDict[int, torch.Tensor] = OrderedDict()
        self._bytes = 0
        self._device = inputs.mask.present.device if inputs.mask is not None else torch.device("cpu")

    def __call__(self, tree: gp.PrimitiveTree) -> torch.Tensor:
        """Return the tree's scores on every arch, float32 [N] on the table's device.

        Raises UnknownNameError naming a statistic the tree reads and the table lacks.
        """
        if len(self._ids) > MAX_SUBTREES:
            self._forget()
        n = self.inputs.size
        with torch.inference_mode():
            scores = self._value(self._intern(tree))
        return scores.to(self._device).expand(1, n).reshape(n)

    def _intern(self, tree: gp.PrimitiveTree) -> int:
        """Return the id of the tree's root, giving ids to the subtrees not seen before."""
        ids = self._ids
        stack: list[int] = []
        for node in reversed(tree):  # prefix order reversed: a node's arguments are on the stack, first on top
            if isinstance(node, gp.Primitive):
                key: tuple = (node.name, *[stack.pop() for _ in range(node.arity)])
            elif is_statistic(node):
                key = (node.value,)
            else:  # -0.0 and 0.0 differ (as divisors): the sign is part of the key
                value = float(node.value)
                key = (value, math.copysign(1.0, value))
            index = ids.get(key)
            if index is None:
                self._steps.append(self._step(node, key))
                index = ids[key] = len(self._steps) - 1
            stack.append(index)
        (root,) = stack
        return root

    def _step(self, node: gp.Primitive | gp.Terminal, key: tuple) -> torch.Tensor | tuple:
        if isinstance(node, gp.Primitive):
            definition = definition_of(node)
            return definition.function, definition.needs_mask, key[1:]
        if is_statistic(node):
            if node.value not in self.inputs.values:
                raise UnknownNameError("statistic", node.value, self.inputs.values)
            return self.inputs.values[node.value]
        return const(key[0])

    def _value(self, index: int) -> torch.Tensor:
        """Return the value of subtree `index`: a leaf's tensor, remembered, or computed from its arguments."""
        step = self._steps[index]
        if isinstance(step, torch.Tensor):
            return step
        value = self._cache.get(index)
        if value is not None:
            self._cache.move_to_end(index)
            self.reused += 1
            return value
        function, needs_mask, arguments = step
        values = [self._value(a) for a in arguments]
        value = function(*values, self.inputs.mask) if needs_mask else function(*values)
        self.computed += 1
        self._remember(index, value)
        return value

    def _remember(self, index: int, value: torch.Tensor) -> None:
        """Keep a per-network (or constant) value within the budget, dropping the least recently used."""
        size = value.element_size() * value.nelement()
        if size > self.budget or (value.dim() == 2 and value.shape[0] > 1):  # a per-layer value: not kept
            return
        self._cache[index] = value
        self._bytes += size
        while self._bytes > self.budget:
            _, dropped = self._cache.popitem(last=False)
            self._bytes -= dropped.element_size() * dropped.nelement()

    def _forget(self) -> None:
        """Drop every interned subtree and remembered value."""
        self._ids.clear()
        self._steps.clear()
        self._cache.clear()
        self._bytes = 0


@dataclass(frozen=True)
class Program:
    """A tree ready to run on any table.

    Attributes:
        tree: the tree.
        statistics: the statistics it reads.
    """

    tree: gp.PrimitiveTree
    statistics: frozenset[str]

    @property
    def source(self) -> str:
        """Return the tree's `to_python` expression, which computes the same values."""
        return to_python(self.tree)

    def __call__(self, inputs: ProgramInputs) -> torch.Tensor:
        """Return the scores of every arch of `inputs`, float32 [N] on its device."""
        missing = sorted(self.statistics - inputs.values.keys())
        if missing:
            raise UnknownNameError("statistic", missing[0], inputs.values)
        return Evaluator(inputs, budget=0)(self.tree)


def compile_program(tree: gp.PrimitiveTree) -> Program:
    """Return the program of `tree`."""
    return Program(tree, frozenset(terminals_of(tree)))


def constant_value(tree: gp.PrimitiveTree) -> float | None:
    """Return the value of a tree that reads no statistic, or None if it reads one."""
    if terminals_of(tree):
        return None
    return float(Evaluator(ProgramInputs({}, None, 1), budget=0)(tree))
