"""The one policy for non-finite scores and statistics (greenmachine.finite.finite_in_order)."""

import numpy as np
import pytest
import torch
from scipy.stats import rankdata

from greenmachine.errors import UnknownNameError
from greenmachine.finite import finite_in_order


def test_infinities_keep_their_order_a_margin_beyond_the_finite_range():
    s = finite_in_order(np.array([2.0, np.inf, -np.inf, 4.0]))
    margin = 0.01 * 2.0 + 1e-6
    assert s.tolist() == pytest.approx([2.0, 4.0 + margin, 2.0 - margin, 4.0], abs=1e-12)


def test_nan_ranks_last_tied_with_minus_infinity_or_is_kept_for_the_caller_to_drop():
    values = np.array([1.0, np.nan, -np.inf, 3.0])
    last = finite_in_order(values)
    assert np.isfinite(last).all() and last[1] == last[2] < 1.0
    kept = finite_in_order(values, nan="keep")
    assert np.isnan(kept[1]) and kept[2] < 1.0 and np.isnan(values[1]) and np.isinf(values[2])  # input untouched


def test_no_finite_value_gives_a_constant_and_dtypes_are_kept():
    assert finite_in_order(np.array([np.nan, np.inf])).tolist() == [0.0, 0.0]
    column = torch.tensor([1.0, float("inf"), 2.0])
    assert finite_in_order(column).dtype == np.float32 and finite_in_order(np.array([3, 1])).dtype == np.float64


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_order_is_strict_where_the_margin_is_lost_to_rounding(dtype):
    # synflow-like magnitudes (and a constant column): the margin alone rounds back onto the extreme
    values = np.array([1e20, 1e20, -np.inf, np.inf, 1e20], dtype=dtype)
    s = finite_in_order(values)
    assert rankdata(s).tolist() == [3.0, 3.0, 1.0, 5.0, 3.0]


def test_an_unknown_nan_policy_names_the_valid_ones():
    with pytest.raises(UnknownNameError, match="unknown NaN policy 'drop'; valid: keep, last"):
        finite_in_order(np.ones(3), nan="drop")
