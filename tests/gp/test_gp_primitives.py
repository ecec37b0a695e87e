"""Every registered primitive is total, keeps shapes, and never lets padded layers leak."""

from __future__ import annotations

import string

import numpy as np
import pytest
import torch

from greenmachine.gp.primitives import FLOAT_MAX, PRIMITIVES, LayerMask, PerLayer, PerNetwork, const
from greenmachine.gp.pset import deap_name

L, N = 6, 9
DEPTHS = torch.tensor([0, 1, 2, 3, 6, 6, 4, 5, 2])  # includes a network without layers and full-depth ones
MASK = LayerMask.of(torch.arange(L)[None, :] < DEPTHS[:, None])

CASES = {
    "zeros": lambda g, shape: torch.zeros(shape),
    "negatives": lambda g, shape: -torch.rand(shape, generator=g) * 10 - 0.1,
    "huge": lambda g, shape: torch.where(torch.rand(shape, generator=g) < 0.5, 1e30, -1e30),
    "extreme": lambda g, shape: torch.where(torch.rand(shape, generator=g) < 0.5, FLOAT_MAX, -FLOAT_MAX),
    "tiny": lambda g, shape: torch.where(torch.rand(shape, generator=g) < 0.5, 1e-30, -1e-40),
    "mixed": lambda g, shape: (torch.sign(torch.randn(shape, generator=g))
                               * 10.0 ** (torch.rand(shape, generator=g) * 70 - 35)),
}

SIGNATURES = [(name, signature) for name, definition in PRIMITIVES.items() for signature in definition.signatures]
IDS = [deap_name(PRIMITIVES[name], signature) for name, signature in SIGNATURES]
LAYER_SIGNATURES = [(s, i) for s, i in zip(SIGNATURES, IDS) if PerLayer in s[1][0]]


def _argument(g: torch.Generator, case: str, type_: type, constant: bool) -> torch.Tensor:
    if type_ is PerLayer:
        return CASES[case](g, (L, N)).float()
    if constant:
        return CASES[case](g, ()).float()
    return CASES[case](g, (1, N)).float()


def _call(name: str, arguments: list[torch.Tensor]) -> torch.Tensor:
    definition = PRIMITIVES[name]
    return definition.function(*arguments, MASK) if definition.needs_mask else definition.function(*arguments)


@pytest.mark.parametrize("name,signature", SIGNATURES, ids=IDS)
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("constant", [False, True], ids=["vector", "constant"])
def test_primitive_is_total_and_keeps_shape(name, signature, case, constant):
    g = torch.Generator().manual_seed(0)
    argument_types, return_type = signature
    arguments = [_argument(g, case, t, constant) for t in argument_types]
    before = [a.clone() for a in arguments]
    out = _call(name, arguments)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all(), f"{name}{argument_types} on {case} gave {out}"
    if return_type is PerLayer:
        assert out.shape == (L, N)
    elif any(a.dim() > 0 for a in arguments):
        assert out.shape == (1, N)
    else:
        assert out.shape == ()
    assert all(torch.equal(a, b) for a, b in zip(arguments, before)), "a primitive modified its argument"


@pytest.mark.parametrize("name,signature", [s for s, _ in LAYER_SIGNATURES], ids=[i for _, i in LAYER_SIGNATURES])
@pytest.mark.parametrize("case", list(CASES))
def test_padded_layers_never_leak(name, signature, case):
    g = torch.Generator().manual_seed(1)
    argument_types, return_type = signature
    arguments = [_argument(g, case, t, False) for t in argument_types]
    padding = MASK.present == 0
    changed = [torch.where(padding, CASES["mixed"](g, (L, N)).float(), a) if t is PerLayer else a
               for a, t in zip(arguments, argument_types)]
    out, out_changed = _call(name, arguments), _call(name, changed)
    if return_type is PerLayer:
        assert torch.equal(out[~padding], out_changed[~padding])
    else:
        assert torch.equal(out, out_changed)


def _reference(x: np.ndarray, depths: np.ndarray, reduce) -> np.ndarray:
    return np.array([[reduce(x[:d, i], d) if d else 0.0 for i, d in enumerate(depths)]])


REDUCTIONS = {
    "sum_layers": lambda v, d: v.sum(),
    "mean_layers": lambda v, d: v.mean(),
    "min_layers": lambda v, d: v.min(),
    "max_layers": lambda v, d: v.max(),
    "std_layers": lambda v, d: v.std(),
    "depth_weighted_sum": lambda v, d: (np.arange(1, d + 1) / d * v).sum(),
    "first_layer": lambda v, d: v[0],
    "last_layer": lambda v, d: v[-1],
}


@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_reductions_match_a_numpy_reference(name):
    x = torch.randn(L, N, generator=torch.Generator().manual_seed(2))
    expected = _reference(x.double().numpy(), DEPTHS.numpy(), REDUCTIONS[name])
    assert np.allclose(_call(name, [x]).numpy(), expected, atol=1e-5)


def test_reductions_cover_the_registry():
    reductions = {n for n, d in PRIMITIVES.items() if d.signatures == (((PerLayer,), PerNetwork),)}
    assert reductions == set(REDUCTIONS)


def test_normalise_standardises_each_network_over_its_layers():
    x = torch.randn(L, N, generator=torch.Generator().manual_seed(3)) * 5 + 2
    z = _call("normalise", [x]).double().numpy()
    for i, d in enumerate(DEPTHS.tolist()):
        assert np.all(z[d:, i] == 0)
        if d > 1:
            assert abs(z[:d, i].mean()) < 1e-5 and abs(z[:d, i].std() - 1) < 1e-4


def test_protected_primitives_do_what_their_names_say():
    x = torch.tensor([[-4.0, 0.0, 9.0]])
    assert torch.allclose(_call("safe_log", [x]), torch.log(x.abs() + 1e-12))
    assert torch.equal(_call("safe_sqrt", [x]), torch.tensor([[2.0, 0.0, 3.0]]))
    assert torch.equal(_call("safe_div", [torch.ones(1, 3), x]), torch.tensor([[-0.25, 1e12, 1 / 9]]))
    assert _call("safe_exp", [torch.tensor([[1e4]])]).item() == FLOAT_MAX


def test_layer_mask_positions():
    mask = LayerMask.of(torch.tensor([[True, True, True, False], [False, False, False, False]]))
    assert mask.depth_weight[:, 0].tolist() == pytest.approx([1 / 3, 2 / 3, 1.0, 0.0])
    assert mask.first[:, 0].tolist() == [1, 0, 0, 0] and mask.last[:, 0].tolist() == [0, 0, 1, 0]
    assert mask.any.tolist() == [[1.0, 0.0]] and mask.count.tolist() == [[3.0, 1.0]]
    assert mask.first[:, 1].sum() == 0 and mask.last[:, 1].sum() == 0


def test_every_primitive_is_unary_or_binary_documented_and_rendered():
    for name, definition in PRIMITIVES.items():
        assert definition.doc, name
        arity = {len(s[0]) for s in definition.signatures}
        assert len(arity) == 1 and arity <= {1, 2} and (arity == {1} or not definition.needs_mask), name
        fields = {f[1] for f in string.Formatter().parse(definition.math) if f[1] is not None}
        assert fields == {str(i) for i in range(arity.pop())}, name


def test_const_is_a_shared_zero_dim_tensor():
    assert const(0.5) is const(0.5) and const(0.5).shape == () and const(0.5).dtype == torch.float32


def test_const_keeps_the_sign_of_zero_whichever_comes_first():
    for _ in range(2):  # -0.0 == 0.0, so a cache keyed by the value alone answers one with the other
        assert not torch.signbit(const(0.0)).item() and torch.signbit(const(-0.0)).item()
    divide = PRIMITIVES["safe_div"].function
    assert divide(const(1.0), const(-0.0)).item() < 0 < divide(const(1.0), const(0.0)).item()


# Deep networks: 40 layers, where torch's vectorised float32 sums keep several partial sums at once, so
# saturated terms of both signs met as +inf and -inf (NaN) and the result depended on the summation order.
DEEP_L, DEEP_N = 40, 7
DEEP_DEPTHS = torch.tensor([40, 40, 33, 32, 1, 0, 17])
DEEP_MASK = LayerMask.of(torch.arange(DEEP_L)[None, :] < DEEP_DEPTHS[:, None])
DEEP_CASES = {
    **CASES,
    "saturated_halves": lambda g, shape: torch.cat([torch.full((shape[0] // 2, *shape[1:]), FLOAT_MAX),
                                                    torch.full((shape[0] - shape[0] // 2, *shape[1:]), -FLOAT_MAX)]),
    "saturated_and_small": lambda g, shape: torch.where(torch.rand(shape, generator=g) < 0.2, 1.0,
                                                        torch.where(torch.rand(shape, generator=g) < 0.5,
                                                                    FLOAT_MAX, -FLOAT_MAX)),
    "scale_1e38": lambda g, shape: torch.sign(torch.randn(shape, generator=g)) * 1e38 * (1 + torch.rand(shape, generator=g)),
}


def _deep_argument(g: torch.Generator, case: str, type_: type) -> torch.Tensor:
    return DEEP_CASES[case](g, (DEEP_L, DEEP_N) if type_ is PerLayer else (1, DEEP_N)).float()


def _deep_call(name: str, arguments: list[torch.Tensor]) -> torch.Tensor:
    definition = PRIMITIVES[name]
    return definition.function(*arguments, DEEP_MASK) if definition.needs_mask else definition.function(*arguments)


@pytest.mark.parametrize("name,signature", SIGNATURES, ids=IDS)
@pytest.mark.parametrize("case", list(DEEP_CASES))
def test_primitive_is_total_over_40_layers(name, signature, case):
    g = torch.Generator().manual_seed(4)
    arguments = [_deep_argument(g, case, t) for t in signature[0]]
    out = _deep_call(name, arguments)
    assert torch.isfinite(out).all(), f"{name}{signature[0]} on {case} over {DEEP_L} layers gave {out}"


# Reductions that do not look at layer positions: the same multiset of layer values, the same result, exactly.
ORDER_FREE = ["sum_layers", "mean_layers", "min_layers", "max_layers", "std_layers"]


def _permute_layers(x: torch.Tensor, depths: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Return x with each network's existing layers (the first depths[n] rows of column n) shuffled."""
    out = x.clone()
    for n, d in enumerate(depths.tolist()):
        out[:d, n] = x[torch.randperm(d, generator=g), n]
    return out


@pytest.mark.parametrize("name", ORDER_FREE)
@pytest.mark.parametrize("case", list(DEEP_CASES))
def test_order_free_reductions_do_not_depend_on_the_layer_order(name, case):
    g = torch.Generator().manual_seed(5)
    x = DEEP_CASES[case](g, (DEEP_L, DEEP_N)).float()
    out = _deep_call(name, [x])
    for _ in range(5):
        assert torch.equal(_deep_call(name, [_permute_layers(x, DEEP_DEPTHS, g)]), out), f"{name} on {case}"


def test_sums_are_exact_where_a_float32_running_sum_rounds():
    # +MAX and -MAX cancel exactly and leave 2^90, which MAX + 2^90 loses in float32 (its ulp there is 2^104);
    # a term below 2^-39 of the largest (1.0) is rounded away, the same way in every order
    mask = LayerMask.of(torch.ones(1, DEEP_L, dtype=torch.bool))
    x = torch.zeros(DEEP_L, 1)
    small = 2.0 ** 90
    for order in ([FLOAT_MAX, small, -FLOAT_MAX], [small, FLOAT_MAX, -FLOAT_MAX], [FLOAT_MAX, -FLOAT_MAX, small],
                  [FLOAT_MAX, small, -FLOAT_MAX, 1.0], [1.0, FLOAT_MAX, -FLOAT_MAX, small]):
        x.zero_()
        x[:len(order), 0] = torch.tensor(order)
        assert PRIMITIVES["sum_layers"].function(x, mask).item() == small
        x[x == small] = 2.0 ** 120  # the mean's terms are x / 40: keep the survivor on the grid of MAX / 40
        assert PRIMITIVES["mean_layers"].function(x, mask).item() == (torch.tensor(2.0 ** 120) * mask.mean_weight[0, 0]).item()


def test_sums_keep_ordinary_values():
    x = torch.randn(L, N, generator=torch.Generator().manual_seed(6)) * 100
    for name in ("sum_layers", "mean_layers", "depth_weighted_sum", "std_layers"):
        reduce = REDUCTIONS[name]
        expected = _reference(x.double().numpy(), DEPTHS.numpy(), reduce)
        assert np.allclose(_call(name, [x]).double().numpy(), expected, rtol=1e-6, atol=1e-6), name


@pytest.mark.parametrize("name", ORDER_FREE + ["depth_weighted_sum", "first_layer", "last_layer"])
def test_a_network_reduces_alike_alone_and_in_a_deeper_table(name):
    # a network scored alone (an exported proxy) and inside a table (the GP) must get the same number
    x = DEEP_CASES["mixed"](torch.Generator().manual_seed(7), (DEEP_L, DEEP_N)).float()
    in_table = _deep_call(name, [x])
    for n, d in enumerate(DEEP_DEPTHS.tolist()):
        alone = PRIMITIVES[name].function(x[:max(d, 1), n:n + 1], LayerMask.of(torch.arange(max(d, 1))[None, :] < d))
        assert torch.equal(alone, in_table[:, n:n + 1]), (name, n)
