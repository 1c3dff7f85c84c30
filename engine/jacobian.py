"""Spectral norms of the per-step state Jacobians J_t = ∂s_t/∂s_{t−1}.

‖J_t‖₂ is the factor by which one step can stretch a gradient on its way back:
the product of these norms over a lag bounds how far a gradient can grow or
shrink over that lag (notes 002: the largest eigenvalue of W_hh above or below 1).

J_t is never formed when it is large. ‖J_t‖₂² is the top eigenvalue of J_tᵀJ_t,
found by the Lanczos iteration, run for every step at once; J_tᵀJ_t v costs
one tangent step (``cell.jvp``) and one step of BPTT (``cell.vjp``). A step
stops once its top Ritz value has settled to a relative 1e-12 (far inside the
contract's 1e-4), or is exact once the Krylov space fills the state space. Small
states (S ≤ 32) form J_t column by column and take an exact SVD.
"""

import numpy as np

SMALL_STATE = 32
MAX_LANCZOS_STEPS = 64
FIRST_CHECK = 12
CHECK_EVERY = 4
RELATIVE_CHANGE = 1e-10  # over CHECK_EVERY steps; looser let a plateau pass for converged
PROBLEMS_PER_CHUNK = 2048


def state_jacobian_norms(cell, record, state_size):
    """‖∂s_t/∂s_{t−1}‖₂ for every step and sequence of one direction's record.

    record: the cell's forward record, arrays (T, B, ·) in reading order.
    Returns (T, B); nan where the forward values at that step are not finite.
    """
    T, B = record["hidden"].shape[:2]
    N = T * B
    flat = {
        name: value.reshape(N, 1, value.shape[-1])
        for name, value in record.items()
        if isinstance(value, np.ndarray) and value.ndim == 3
    }
    finite = np.ones(N, dtype=bool)
    for value in flat.values():
        finite &= np.isfinite(value).all(axis=(1, 2))
    norms = np.full(N, np.nan)
    solve = _exact_norms if state_size <= SMALL_STATE else _lanczos_norms
    with np.errstate(all="ignore"):
        rows = np.flatnonzero(finite)
        for start in range(0, len(rows), PROBLEMS_PER_CHUNK):
            chunk = rows[start : start + PROBLEMS_PER_CHUNK]
            norms[chunk] = solve(cell, _take(flat, chunk), state_size)
    return norms.reshape(T, B)


def _take(flat, rows):
    return {name: value[rows] for name, value in flat.items()}


def _exact_norms(cell, flat, state_size):
    """Form each J_t from S tangent steps along the unit vectors; exact SVD."""
    n = len(next(iter(flat.values())))
    basis = np.broadcast_to(np.eye(state_size), (n, state_size, state_size))
    columns = cell.jvp(flat, basis)  # [k, j, :] = J_k e_j, so each is J_kᵀ
    return np.linalg.svd(columns, compute_uv=False)[:, 0]


def _lanczos_norms(cell, flat, state_size):
    """√λ_max(J_tᵀJ_t) by batched Lanczos; exact SVD for any step left unconverged.

    The top Ritz value θ_k rises monotonically to λ_max; a step stops once θ_k
    has moved by less than ``RELATIVE_CHANGE`` over the last ``CHECK_EVERY``
    iterations. Without re-orthogonalisation the Lanczos vectors lose
    orthogonality only as Ritz values converge (Paige), which leaves the top
    Ritz value accurate: it costs the extreme eigenvalue nothing.
    """
    flat = {name: value[:, 0] for name, value in flat.items()}  # (n, ·): one GEMM per product
    n = len(next(iter(flat.values())))
    S = state_size
    max_steps = min(S, MAX_LANCZOS_STEPS)
    rng = np.random.default_rng(0)  # a fixed start: the same trace, the same norms
    q = rng.standard_normal((n, S))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    q_prev = np.zeros_like(q)
    alpha = np.zeros((n, max_steps))
    beta = np.zeros((n, max_steps))
    theta = np.zeros(n)
    active = np.arange(n)  # rows of the original problems still iterating
    norms = np.full(n, np.nan)
    for k in range(max_steps):
        w = cell.vjp(flat, cell.jvp(flat, q))
        a = np.einsum("ns,ns->n", w, q)
        w -= a[:, None] * q
        if k:
            w -= beta[:, k - 1, None] * q_prev
        b = np.linalg.norm(w, axis=1)
        alpha[:, k], beta[:, k] = a, b
        exhausted = k == max_steps - 1
        if exhausted or (k + 1 >= FIRST_CHECK and (k + 1 - FIRST_CHECK) % CHECK_EVERY == 0):
            previous_theta = theta
            theta = _top_eigenvalue(alpha[:, : k + 1], beta[:, :k], previous_theta)
            done = np.abs(theta - previous_theta) <= RELATIVE_CHANGE * theta
            done |= b <= 1e-14 * np.maximum(theta, 1e-300)  # an invariant subspace: exact
            if exhausted and max_steps == S:
                done[:] = True  # the Krylov space is the whole space: exact
            norms[active[done]] = np.sqrt(np.maximum(theta[done], 0.0))
            keep = ~done
            active = active[keep]
            if not len(active):
                break
            if not keep.all():
                flat = _take(flat, keep)
                q, w, b, q_prev = q[keep], w[keep], b[keep], q_prev[keep]
                alpha, beta, theta = alpha[keep], beta[keep], theta[keep]
        q_prev, q = q, w / np.where(b > 0.0, b, 1.0)[:, None]
    if len(active):  # not converged within max_steps: form these few exactly
        flat = {name: value[:, None] for name, value in flat.items()}
        norms[active] = _exact_norms(cell, flat, S)
    return norms


def _top_eigenvalue(alpha, beta, at_least):
    """The largest eigenvalue of each symmetric tridiagonal, by Sturm bisection.

    alpha (n, k) the diagonals, beta (n, k − 1) the off-diagonals; at_least (n,)
    a known lower bound (the previous, smaller Lanczos tridiagonal's value).
    The number of negative pivots of T − xI counts the eigenvalues below x.
    """
    k = alpha.shape[1]
    off = np.abs(beta)
    radius = np.zeros_like(alpha)
    radius[:, :-1] += off
    radius[:, 1:] += off
    high = (alpha + radius).max(axis=1)  # Gershgorin
    low = np.maximum((alpha - radius).min(axis=1), np.minimum(at_least, high))
    squared = beta * beta
    tiny = np.finfo(float).tiny
    while np.any(high - low > 1e-14 * np.abs(high)):
        x = 0.5 * (low + high)
        below = np.zeros(len(x), dtype=int)
        pivot = alpha[:, 0] - x
        for j in range(k):
            if j:
                pivot = alpha[:, j] - x - squared[:, j - 1] / pivot
            pivot = np.where(pivot == 0.0, -tiny, pivot)
            below += pivot < 0.0
        all_below = below == k
        high = np.where(all_below, x, high)
        low = np.where(all_below, low, x)
    return high
