"""GP primitives: total tensor functions over per-layer and per-network values, in one registry.

Programs run on a whole table at once, layer-major (reductions over layers then run along
contiguous memory):

- a per-layer value is float32 [L, N]: layer l of arch n at [l, n]; entries past a network's depth
  are finite but meaningless and never reach a reduction's result;
- a per-network value is float32 [1, N]; a constant is a 0-dim float32 tensor (`const`);
- `mask` is the table's `LayerMask`, passed to the primitives that need to know which layers exist.

Programs run in float32 (the search) or float64 (`bind(..., dtype=torch.float64)`: what the shipped
and exported proxies fall back to where their float32 scores saturate, on networks large enough to
pass float32's range); every primitive keeps its arguments' dtype.

Every primitive is total: finite inputs give finite outputs, with overflow saturating at
+-FLOAT_MAX (float64: +-DOUBLE_MAX). Its protection is part of its definition and of its name
(`safe_log` = log(|x| + EPS)). A primitive never modifies its arguments. Sums over layers
(`layer_sum`) are computed exactly (each term rounded to 2^-39 of its network's largest) and rounded
once, so they never meet +inf and -inf halfway, and a reduction that ignores layer positions (sum, mean, std, min, max) gives the same value
for any order of a network's layers, alone or in any table.

A primitive is unary or binary; one that needs `mask` is unary and takes it as a last argument.
A new primitive is one decorated function here; the conformance test in tests/gp holds it to the
rules above.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

import torch

from greenmachine.registry import Registry

FLOAT_MAX = float(torch.finfo(torch.float32).max)
DOUBLE_MAX = float(torch.finfo(torch.float64).max)
EPS = 1e-12
_EPS = torch.tensor(EPS)  # 0-dim: broadcasts on any device


class PerLayer:
    """GP type tag of a per-layer value, float32 [L, N]."""


class PerNetwork:
    """GP type tag of a per-network value, float32 [1, N] (a constant: 0-dim)."""


Signature = tuple[tuple[type, ...], type]
UNARY: tuple[Signature, ...] = (((PerLayer,), PerLayer), ((PerNetwork,), PerNetwork))
BINARY: tuple[Signature, ...] = (((PerLayer, PerLayer), PerLayer), ((PerLayer, PerNetwork), PerLayer),
                                 ((PerNetwork, PerNetwork), PerNetwork))
LAYERWISE: tuple[Signature, ...] = (((PerLayer,), PerLayer),)
REDUCTION: tuple[Signature, ...] = (((PerLayer,), PerNetwork),)

# Wrapper rules: given the constant value of each argument (None where the argument is not
# constant), return the argument a call can be replaced by without changing any ranking (the
# primitive is strictly increasing in it), or None.
KeepRule = Callable[[tuple[float | None, ...]], int | None]


def increasing(constants: tuple[float | None, ...]) -> int | None:
    """Keep the only argument of a strictly increasing unary primitive."""
    return 0


def beside_constant(constants: tuple[float | None, ...]) -> int | None:
    """Keep the non-constant argument of x + c or c + x."""
    a, b = constants
    return 0 if b is not None and a is None else 1 if a is not None and b is None else None


def minus_constant(constants: tuple[float | None, ...]) -> int | None:
    """Keep x in x - c."""
    return 0 if constants[0] is None and constants[1] is not None else None


def times_positive_constant(constants: tuple[float | None, ...]) -> int | None:
    """Keep x in x * c or c * x with c > 0."""
    a, b = constants
    return 0 if a is None and b is not None and b > 0 else 1 if b is None and a is not None and a > 0 else None


def over_positive_constant(constants: tuple[float | None, ...]) -> int | None:
    """Keep x in x / c with c > 0 (safe_div divides by c + EPS)."""
    return 0 if constants[0] is None and constants[1] is not None and constants[1] > 0 else None


@dataclass(frozen=True)
class PrimitiveDef:
    """A registered primitive.

    Attributes:
        name: its name in programs, configs and `to_python` output.
        function: the tensor implementation.
        signatures: the (argument types, return type) combinations it is offered to the GP with.
        math: a `str.format` template over its rendered arguments, for `to_math`.
        needs_mask: True when it is called with `mask` as its last argument.
        keep: wrapper rule for hall-of-fame stripping, or None when it is never stripped.
        doc: one line saying what it computes.
        symbolic: its mathematical form as a sympy expression over `x` (and `y`), without the
            protections (`log(Abs(x))` for safe_log); an operation over a network's layers is an
            undefined function `L_<name>` (`L_sum(x)`), and `l`, `L` are a layer's position and the
            network's depth (`greenmachine.formula` reads it). None: shown as an opaque function.
    """

    name: str
    function: Callable[..., torch.Tensor]
    signatures: tuple[Signature, ...]
    math: str
    needs_mask: bool
    keep: KeepRule | None
    doc: str
    symbolic: str | None = None


PRIMITIVES: Registry[PrimitiveDef] = Registry("primitive")


def primitive(name: str, signatures: tuple[Signature, ...], math: str, needs_mask: bool = False,
              keep: KeepRule | None = None,
              symbolic: str | None = None) -> Callable[[Callable[..., torch.Tensor]], Callable[..., torch.Tensor]]:
    """Return a decorator registering its function as primitive `name` (see PrimitiveDef for the arguments)."""

    def decorate(function: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        if not function.__doc__:
            raise ValueError(f"primitive {name!r} needs a docstring saying what it computes")
        doc = function.__doc__.strip().splitlines()[0]
        PRIMITIVES.add(name, PrimitiveDef(name, function, signatures, math, needs_mask, keep, doc, symbolic))
        return function

    return decorate


@dataclass(frozen=True)
class LayerMask:
    """What the mask-aware primitives need to know about which layers exist, computed once per table.

    Attributes (float32 or float64, on the table's device):
        present: 1 where the layer exists, [L, N].
        count: number of existing layers, at least 1, [1, N].
        mean_weight: present / count, [L, N].
        depth_weight: i / d at the i-th (1-based) existing layer of a network with d layers, 0 at
            padding, [L, N].
        first: 1 at each network's first existing layer, [L, N].
        last: 1 at each network's last existing layer, [L, N].
        low_fill: -FLOAT_MAX at padding, 0 elsewhere, [L, N].
        high_fill: +FLOAT_MAX at padding, 0 elsewhere, [L, N].
        any: 1 where the network has at least one layer, [1, N].
    """

    present: torch.Tensor
    count: torch.Tensor
    mean_weight: torch.Tensor
    depth_weight: torch.Tensor
    first: torch.Tensor
    last: torch.Tensor
    low_fill: torch.Tensor
    high_fill: torch.Tensor
    any: torch.Tensor

    @classmethod
    def of(cls, mask: torch.Tensor, dtype: torch.dtype = torch.float32) -> LayerMask:
        """Return the LayerMask of `mask` (bool [N, L], True where a layer exists, as in StatisticsTable) in `dtype`."""
        big = torch.finfo(dtype).max
        present = mask.t().contiguous().to(dtype)
        depth = present.sum(0, keepdim=True)
        count = depth.clamp(min=1.0)
        position = present.cumsum(0) * present
        padding = 1.0 - present
        return cls(
            present=present,
            count=count,
            mean_weight=present / count,
            depth_weight=position / count,
            first=(position == 1.0).to(dtype),
            last=((position == depth) & (present > 0)).to(dtype),
            low_fill=padding * -big,
            high_fill=padding * big,
            any=(depth > 0).to(dtype),
        )


def _finite(fresh: torch.Tensor) -> torch.Tensor:
    """Return `fresh` (a tensor this module just created) with +-inf saturated to its dtype's largest value, in place."""
    big = FLOAT_MAX if fresh.dtype == torch.float32 else DOUBLE_MAX
    return fresh.clamp_(-big, big)


# Sums over layers. Each term is rounded to a multiple of u = 2^(e - GRID_BITS), where 2^e <= the largest
# |term| of its network (column) < 2^(e+1). A float32 term of at least 2^(e-16) already is such a multiple
# (float32 has 24 significant bits) and keeps every bit; a smaller one moves by at most u/2 = 2^(e-40)
# (float64 terms, 53 bits, are rounded the same way). The rounded terms are integers of at most 2^40 units,
# so up to MAX_TERMS of them add up exactly in float64, in any order and on any device. The sum is then
# rounded to the terms' dtype once and saturated: it never meets +inf and -inf halfway, and depends only
# on the multiset of the network's own terms.
GRID_BITS = 39
MAX_TERMS = 2 ** (53 - GRID_BITS - 1)  # 8192 layers: 2^13 terms of at most 2^40 units sum to at most 2^53 units
# per dtype: (integer view, its exponent bits, smallest unit): the exponent bits read as an integer are ordered
# like the magnitudes' powers of two; the smallest unit keeps a column of subnormal terms within 2^40 units
_BITS = {torch.float32: (torch.int32, 0x7F800000, 2.0 ** -149),
         torch.float64: (torch.int64, 0x7FF0000000000000, 2.0 ** (-1022 - GRID_BITS))}


def layer_sum(terms: torch.Tensor) -> torch.Tensor:
    """Return the sums over layers of finite terms [L, N] as [1, N] (float64 terms: float64, else float32), saturated.

    Exact after rounding each term to 2^-39 of its column's largest (see above), so independent of the
    order of the terms and of the other columns.
    """
    if terms.shape[0] > MAX_TERMS:
        raise ValueError(f"layer_sum adds at most {MAX_TERMS} layers exactly, got {terms.shape[0]}")
    dtype = torch.float64 if terms.dtype == torch.float64 else torch.float32
    terms = terms.to(dtype)
    integer, exponent, smallest = _BITS[dtype]
    power = (terms.view(integer) & exponent).amax(0, keepdim=True).view(dtype)  # 2^e, 0 for subnormals
    unit = power.mul_(2.0 ** -GRID_BITS).clamp_(min=smallest)  # a power of two: the divisions below are exact
    rounded = torch.div(terms, unit).round_().mul_(unit)
    big = torch.finfo(dtype).max
    return rounded.sum(0, keepdim=True, dtype=torch.float64).clamp_(-big, big).to(dtype)


def _centred(x: torch.Tensor, mask: LayerMask) -> tuple[torch.Tensor, torch.Tensor]:
    """Return x minus each network's mean over its layers (0 at padding), [L, N], and the networks' std, [1, N]."""
    mean = layer_sum(x * mask.mean_weight)
    centred = _finite(torch.sub(x, mean)).mul_(mask.present)  # clamped first: inf * 0 would be NaN
    variance = layer_sum(_finite(centred * centred)).div_(mask.count)
    return centred, _finite(variance).sqrt_()


def const(value: float) -> torch.Tensor:
    """Return the constant `value` as a 0-dim float32 tensor (shared: primitives never modify arguments)."""
    return _const(value, math.copysign(1.0, value))  # -0.0 == 0.0, but they divide differently


@functools.lru_cache(maxsize=4096)
def _const(value: float, sign: float) -> torch.Tensor:
    return torch.tensor(value, dtype=torch.float32)


def namespace() -> dict[str, Callable[..., torch.Tensor]]:
    """Return what a `gp.render.to_python` expression is evaluated with: `const` and every primitive by name."""
    return {"const": const, **{name: d.function for name, d in PRIMITIVES.items()}}


def float64_where_saturated(run: Callable[[torch.dtype], torch.Tensor]) -> torch.Tensor:
    """Return `run(torch.float32)` as float64, its values saturated at +-FLOAT_MAX replaced by `run(torch.float64)`'s.

    `run` evaluates one expression with its inputs in the given dtype. The result is the search's own
    float32 evaluation wherever that is finite, so scores past float32's range keep their order instead
    of tying (not float64 throughout: some found formulas take logs of differences that float32
    rounds to zero, and would move).
    """
    scores = run(torch.float32).to(torch.float64)
    saturated = scores.abs() >= FLOAT_MAX
    if bool(saturated.any()):
        scores = torch.where(saturated, run(torch.float64).to(scores.device), scores)
    return scores


def random_constant(low: float, high: float, digits: int) -> float:
    """Return a uniform draw from [low, high] rounded to `digits` decimals (the GP's ephemeral constants)."""
    return round(random.uniform(low, high), digits)


# element-wise, on per-layer and per-network values alike (a per-network value broadcasts over layers)

@primitive("add", BINARY, "({0} + {1})", keep=beside_constant, symbolic="x + y")
def add(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Return a + b."""
    return _finite(torch.add(a, b))


@primitive("sub", BINARY, "({0} - {1})", keep=minus_constant, symbolic="x - y")
def sub(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Return a - b."""
    return _finite(torch.sub(a, b))


@primitive("mul", BINARY, "({0} * {1})", keep=times_positive_constant, symbolic="x*y")
def mul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Return a * b."""
    return _finite(torch.mul(a, b))


@primitive("safe_div", BINARY, "({0} / {1})", keep=over_positive_constant, symbolic="x/y")
def safe_div(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Return a / (b + sign(b) EPS): b pushed EPS away from zero, keeping its sign (+ for 0)."""
    denominator = torch.copysign(_EPS, b).add_(b)
    return _finite(torch.div(a, denominator))


@primitive("neg", UNARY, "-{0}", symbolic="-x")
def neg(x: torch.Tensor) -> torch.Tensor:
    """Return -x."""
    return torch.neg(x)


@primitive("abs", UNARY, "|{0}|", symbolic="Abs(x)")
def abs_(x: torch.Tensor) -> torch.Tensor:
    """Return |x|."""
    return torch.abs(x)


@primitive("square", UNARY, "{0}^2", symbolic="x**2")
def square(x: torch.Tensor) -> torch.Tensor:
    """Return x^2."""
    return _finite(torch.mul(x, x))


@primitive("safe_sqrt", UNARY, "sqrt|{0}|", symbolic="sqrt(Abs(x))")
def safe_sqrt(x: torch.Tensor) -> torch.Tensor:
    """Return sqrt(|x|)."""
    return torch.abs(x).sqrt_()


@primitive("safe_log", UNARY, "log|{0}|", symbolic="log(Abs(x))")
def safe_log(x: torch.Tensor) -> torch.Tensor:
    """Return log(|x| + EPS)."""
    return torch.abs(x).add_(EPS).log_()


@primitive("safe_exp", UNARY, "exp({0})", symbolic="exp(x)")
def safe_exp(x: torch.Tensor) -> torch.Tensor:
    """Return exp(x), saturating at FLOAT_MAX."""
    return _finite(torch.exp(x))


@primitive("sigmoid", UNARY, "sigmoid({0})", keep=increasing, symbolic="1/(1 + exp(-x))")
def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Return 1 / (1 + exp(-x))."""
    return torch.sigmoid(x)


@primitive("normalise", LAYERWISE, "normalise_l({0})", needs_mask=True, symbolic="L_normalise(x)")
def normalise(x: torch.Tensor, mask: LayerMask) -> torch.Tensor:
    """Return x standardised per network over its existing layers, (x - mean) / (std + EPS); 0 at padding."""
    centred, std = _centred(x, mask)
    return _finite(centred.div_(std.add_(EPS)))


# reductions over a network's existing layers: per-layer -> per-network; a network without layers gives 0

@primitive("sum_layers", REDUCTION, "sum_l({0})", needs_mask=True, symbolic="L_sum(x)")
def sum_layers(x: torch.Tensor, mask: LayerMask) -> torch.Tensor:
    """Return the sum of x over each network's layers."""
    return layer_sum(x * mask.present)


@primitive("mean_layers", REDUCTION, "mean_l({0})", needs_mask=True, symbolic="L_mean(x)")
def mean_layers(x: torch.Tensor, mask: LayerMask) -> torch.Tensor:
    """Return the mean of x over each network's layers."""
    return layer_sum(x * mask.mean_weight)


@primitive("min_layers", REDUCTION, "min_l({0})", needs_mask=True, symbolic="L_min(x)")
def min_layers(x: torch.Tensor, mask: LayerMask) -> torch.Tensor:
    """Return the minimum of x over each network's layers."""
    return torch.addcmul(mask.high_fill, x, mask.present).amin(0, keepdim=True) * mask.any


@primitive("max_layers", REDUCTION, "max_l({0})", needs_mask=True, symbolic="L_max(x)")
def max_layers(x: torch.Tensor, mask: LayerMask) -> torch.Tensor:
    """Return the maximum of x over each network's layers."""
    return torch.addcmul(mask.low_fill, x, mask.present).amax(0, keepdim=True) * mask.any


@primitive("std_layers", REDUCTION, "std_l({0})", needs_mask=True, symbolic="L_std(x)")
def std_layers(x: torch.Tensor, mask: LayerMask) -> torch.Tensor:
    """Return the (population) standard deviation of x over each network's layers."""
    return _centred(x, mask)[1]


@primitive("depth_weighted_sum", REDUCTION, "sum_l(l/L * {0})", needs_mask=True, symbolic="L_sum(l*x/L)")
def depth_weighted_sum(x: torch.Tensor, mask: LayerMask) -> torch.Tensor:
    """Return sum over a network's d layers of (i / d) x_i, i = 1..d: later layers weigh more, the last 1."""
    return layer_sum(x * mask.depth_weight)


@primitive("first_layer", REDUCTION, "first_l({0})", needs_mask=True, symbolic="L_first(x)")
def first_layer(x: torch.Tensor, mask: LayerMask) -> torch.Tensor:
    """Return x at each network's first layer."""
    return (x * mask.first).sum(0, keepdim=True)


@primitive("last_layer", REDUCTION, "last_l({0})", needs_mask=True, symbolic="L_last(x)")
def last_layer(x: torch.Tensor, mask: LayerMask) -> torch.Tensor:
    """Return x at each network's last layer."""
    return (x * mask.last).sum(0, keepdim=True)
