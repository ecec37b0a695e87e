"""Small, numerically careful helpers shared by the passes: correlation matrices and their spectra."""

from __future__ import annotations

import math

import torch

EIG_FLOOR = 1e-8


def correlation_from_moments(total: torch.Tensor, outer: torch.Tensor, count: int) -> torch.Tensor:
    """Return the Pearson correlation [C, C] from sums over observations.

    Args:
        total: sum of the observations, [C].
        outer: sum of their outer products, [C, C].
        count: number of observations.

    Zero-variance variables get zero rows and columns (their NaNs are replaced by 0, as MeCo does).
    """
    mean = total / count
    cov = outer / count - torch.outer(mean, mean)
    std = cov.diagonal().clamp_min(0).sqrt()
    corr = cov / torch.outer(std, std)
    return torch.nan_to_num(corr, nan=0.0, posinf=0.0, neginf=0.0)


def rows_correlation(x: torch.Tensor) -> torch.Tensor:
    """Return the Pearson correlation [N, N] between the rows of `x` [N, D] (NaN and inf set to 0)."""
    x = x - x.mean(dim=1, keepdim=True)
    norm = x.norm(dim=1, keepdim=True)
    corr = (x @ x.T) / (norm * norm.T)
    return torch.nan_to_num(corr, nan=0.0, posinf=0.0, neginf=0.0)


def spectrum(matrix: torch.Tensor) -> torch.Tensor:
    """Return the eigenvalues of a symmetric matrix in ascending order, computed in float64."""
    return torch.linalg.eigvalsh(matrix.double())


def top_singular_value(matrix: torch.Tensor) -> float:
    """Return the largest singular value of `matrix` [M, N], in float64.

    The square root of the top eigenvalue of the smaller Gram matrix: the same number as
    `matrix_norm(ord=2)` to rounding, several times faster than its full SVD on wide matrices.
    """
    m = matrix.double()
    gram = m.T @ m if m.shape[1] <= m.shape[0] else m @ m.T
    return math.sqrt(max(float(spectrum(gram)[-1]), 0.0))


def product_top_singular_value(a: torch.Tensor, b: torch.Tensor) -> float:
    """Return the largest singular value of a^T b for a [N, P] and b [N, Q], in float64, without forming it.

    With QR factors a^T = Q_a R_a and b^T = Q_b R_b, a^T b = Q_a (R_a R_b^T) Q_b^T has the singular
    values of R_a R_b^T, at most min(P, N) x min(Q, N): the same number as `matrix_norm(a.T @ b, 2)`
    to rounding, at O(N^2 (P + Q)) instead of O(P Q (N + min(P, Q))) when N is the small side.
    """
    r_a = torch.linalg.qr(a.double().T, mode="r").R
    r_b = torch.linalg.qr(b.double().T, mode="r").R
    return top_singular_value(r_a @ r_b.T)


def spectrum_summary(eig: torch.Tensor) -> dict[str, float]:
    """Return min, max, mean log, log condition number and spectral entropy of eigenvalues `eig` [C]."""
    clamped = eig.clamp_min(EIG_FLOOR)
    lam_max = float(eig[-1])
    p = eig.clamp_min(0)
    total = float(p.sum())
    if total > 0:
        p = p / total
        entropy = float(-(p * torch.log(p.clamp_min(1e-30))).sum())
    else:
        entropy = 0.0
    return {
        "min": float(eig[0]),
        "max": lam_max,
        "logmean": float(torch.log(clamped).mean()),
        "logcond": math.log(max(lam_max, EIG_FLOOR) / float(clamped[0])),
        "entropy": entropy,
    }
