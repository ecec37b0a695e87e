"""The one policy for non-finite scores and statistics: an infinity keeps its order, NaN ranks last or is left to drop.

Used by the correlations of every report and league (`correlations.correlation`, the experiment scripts), the
statistics table the search evolves over (`statistics.table.clean_columns`) and the ensemble's feature
matrix (`ensemble.feature_matrix`); docs/scoring.md states the policy.
"""

from __future__ import annotations

import numpy as np
import torch

from greenmachine.errors import check_choice

NAN_CHOICES = ("last", "keep")


def finite_in_order(values: np.ndarray | torch.Tensor, nan: str = "last") -> np.ndarray:
    """Return a copy of `values` with every infinity replaced by a finite value that keeps its order.

    +inf becomes a value above every finite one and -inf one below, a margin of 1 % of the finite
    range + 1e-6 beyond it (at least one step of the dtype), so the order of all archs is kept.
    `nan="last"`: NaN (a failed score) becomes the same value as -inf and ranks last; `nan="keep"`:
    NaN stays, for a caller that drops those rows. With no finite value at all the result is zeros
    (a constant: it ranks nothing). The dtype is kept for floating input (float32 statistics stay
    float32), float64 otherwise.
    """
    check_choice("NaN policy", nan, NAN_CHOICES)
    s = values.detach().cpu().numpy().copy() if isinstance(values, torch.Tensor) else np.array(values)
    if not np.issubdtype(s.dtype, np.floating):
        s = s.astype(np.float64)
    finite = np.isfinite(s)
    if not finite.any():
        return np.zeros_like(s)
    low, high = s[finite].min(), s[finite].max()
    margin = s.dtype.type(0.01) * (high - low) + s.dtype.type(1e-6)
    below, above = low - margin, high + margin
    below = below if below < low else np.nextafter(low, s.dtype.type(-np.inf))
    above = above if above > high else np.nextafter(high, s.dtype.type(np.inf))
    lowest = np.isneginf(s) | np.isnan(s) if nan == "last" else np.isneginf(s)
    s[np.isposinf(s)] = above
    s[lowest] = below
    return s
