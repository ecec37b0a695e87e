"""Run trees on a whole table at once, one tensor pass per primitive.

An `Evaluator` interns subtrees: the key of a node is its DEAP name and its arguments' ids, so equal
subtrees of any trees it runs share one id. It remembers the values of the reductions (per-layer to
per-network: where the costly per-layer work of a subtree ends) it computed lately, in slots of one
preallocated tensor (least recently used reused first), so a reduction shared by many programs (an
offspring and its parent, crossover partners, an elite and its variants) runs once while it is
remembered. Three things it does not do, because on a CPU they made evaluations slower
(docs/performance.md): keep per-layer values (memory traffic beyond the processor's caches), keep
the computed tensors themselves (thousands of small long-lived blocks between the large short-lived
ones made the allocator return and fault memory in again), and keep every per-network value (copying
cost more than recomputing cheap arithmetic on reductions). A remembered value is a copy of what the
subtree computed, and is copied out again when reused: a tree's scores are bit for bit those of
running it alone.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import torch
from deap import gp

from greenmachine.errors import UnknownNameError
from greenmachine.gp.primitives import PRIMITIVES, LayerMask, PerLayer, PerNetwork, const
from greenmachine.gp.pset import definition_of, is_statistic
from greenmachine.gp.render import terminals_of
from greenmachine.statistics.table import StatisticsTable

NAMESPACE: dict[str, object] = {"const": const, **{name: d.function for name, d in PRIMITIVES.items()}}
"""What `to_python` expressions are evaluated with (plus the bound statistics and `mask`)."""

CACHE_BYTES = 64 * 2 ** 20
"""Bytes of the tensor in which an Evaluator remembers reductions' values (16,384 of them for 1,000 archs)."""

MAX_SUBTREES = 200_000
"""Most distinct subtrees an Evaluator interns before it forgets them all and starts again (bounds its memory)."""


@dataclass(frozen=True)
class ProgramInputs:
    """A statistics table laid out for programs (layer-major, float32 or float64, on the table's device).

    Attributes:
        values: statistic name -> per-layer values [L, N] or per-network values [1, N].
        mask: which layers exist (None for inputs that only constant trees can run on).
        size: N, the number of archs.
    """

    values: dict[str, torch.Tensor]
    mask: LayerMask | None
    size: int


def bind(table: StatisticsTable, dtype: torch.dtype = torch.float32) -> ProgramInputs:
    """Return `table` laid out for programs (see ProgramInputs), in `dtype`.

    The search runs in float32; float64 keeps the order of scores past float32's range (3.4e38),
    where float32 would saturate them into ties.
    """
    n = len(table)
    values = {name: v.t().contiguous().to(dtype) for name, v in table.layer.items()}
    values.update({name: v.reshape(1, n).to(dtype) for name, v in table.scalar.items()})
    return ProgramInputs(values, LayerMask.of(table.mask, dtype), n)


class Evaluator:
    """Scores trees on one table, reusing the values of the reductions it computed lately.

    Args:
        inputs: the table, bound for programs.
        budget: bytes of the tensor that remembers reductions' values (0: remember nothing).

    Attributes:
        computed: primitive calls made so far; reused: subtree values answered from memory.
    """

    def __init__(self, inputs: ProgramInputs, budget: int = CACHE_BYTES):
        self.inputs = inputs
        self._dtype = inputs.mask.present.dtype if inputs.mask is not None else torch.float32  # bind's dtype
        self.slots = budget // (self._dtype.itemsize * inputs.size)  # values of one arch each
        self.computed = 0
        self.reused = 0
        self._ids: dict[tuple, int] = {}
        # per id: a leaf's tensor, or (primitive function, whether it takes the mask, argument ids, is a reduction)
        self._steps: list[torch.Tensor | tuple] = []
        self._slot_of: OrderedDict[int, int] = OrderedDict()  # id -> slot, least recently used first
        self._device = inputs.mask.present.device if inputs.mask is not None else torch.device("cpu")
        self._memory: torch.Tensor | None = None  # [slots, N], allocated on first use

    def __call__(self, tree: gp.PrimitiveTree) -> torch.Tensor:
        """Return the tree's scores on every arch, [N] in the bound dtype (float32 or float64) on the table's device.

        Raises UnknownNameError naming a statistic the tree reads and the table lacks.
        """
        if len(self._ids) > MAX_SUBTREES:
            self._forget()
        n = self.inputs.size
        with torch.inference_mode():
            return self._value(self._intern(tree)).to(self._device).expand(1, n).reshape(n)

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
            reduction = node.ret is PerNetwork and PerLayer in node.args
            return definition.function, definition.needs_mask, key[1:], reduction and self.slots > 0
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
        function, needs_mask, arguments, kept = step
        slot = self._slot_of.get(index) if kept else None
        if slot is not None:
            self._slot_of.move_to_end(index)
            self.reused += 1
            return self._memory[slot:slot + 1].clone()  # a copy: the slot is reused once forgotten
        values = [self._value(a) for a in arguments]
        value = function(*values, self.inputs.mask) if needs_mask else function(*values)
        self.computed += 1
        if kept:
            self._remember(index, value)
        return value

    def _remember(self, index: int, value: torch.Tensor) -> None:
        """Copy a reduction's value [1, N] into a free slot, or into the least recently used one."""
        if self._memory is None:
            self._memory = torch.empty((self.slots, self.inputs.size), dtype=self._dtype, device=self._device)
        if len(self._slot_of) < self.slots:
            slot = len(self._slot_of)
        else:
            _, slot = self._slot_of.popitem(last=False)
        self._memory[slot].copy_(value[0])
        self._slot_of[index] = slot

    def _forget(self) -> None:
        """Drop every interned subtree and remembered value."""
        self._ids.clear()
        self._steps.clear()
        self._slot_of.clear()


@dataclass(frozen=True)
class Program:
    """A tree ready to run on any table.

    Attributes:
        tree: the tree.
        statistics: the statistics it reads.
    """

    tree: gp.PrimitiveTree
    statistics: frozenset[str]

    def __call__(self, inputs: ProgramInputs) -> torch.Tensor:
        """Return the scores of every arch of `inputs`, [N] in its dtype (float32 unless bound as float64) on its device."""
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
