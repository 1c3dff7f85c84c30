"""Spectral norms of the per-step state Jacobians J_t = ∂s_t/∂s_{t−1}.

‖J_t‖₂ is the factor by which one step can stretch a gradient on its way back:
the product of these norms over a lag bounds how far a gradient can grow or
shrink over that lag (notes 002: the largest eigenvalue of W_hh above or below 1).

J_t is never formed when it is large. ‖J_t‖₂² is the top eigenvalue of J_tᵀJ_t,
found by the Lanczos iteration, run for every step at once; J_tᵀJ_t v costs
one tangent step (``cell.jvp``) and one step of BPTT (``cell.vjp``). A step
stops once the residual of its top Ritz pair puts θ within a relative 1e-7 of an
eigenvalue (far inside the contract's 1e-4); the steps whose top singular
values crowd so close that this takes too long get an exact SVD instead. Small
states (S ≤ 32) form J_t column by column and take an exact SVD.

Memory is bounded whatever converges: the Lanczos iteration takes at most
``PROBLEMS_PER_CHUNK`` steps, and at most ``LANCZOS_BYTES`` of their records and
vectors, at a time; the exact SVDs form at most ``EXACT_BYTES`` of Jacobians
(S × S each) at a time. A trace whose steps all fall back (an orthogonal,
linear GRU at ρ = 1: every singular value near 1) then holds a few Jacobians,
never all T·B of them; ``WORKING_BYTES`` bounds it all.
"""

import numpy as np

SMALL_STATE = 32
MAX_LANCZOS_STEPS = 64
FIRST_CHECK = 16
CHECK_EVERY = 4
RELATIVE_RESIDUAL = 1e-7  # bounds the relative error of λ = σ², so σ's by half of it
LAGUERRE_STEPS = 60
PROBLEMS_PER_CHUNK = 2048
# Arrays of one step's size that the iteration holds per problem: q, q_prev, w,
# and the tangent's and BPTT step's gate products
LANCZOS_TEMPORARIES = 16
LANCZOS_BYTES = 64 * 2**20  # a chunk's records (copied) and vectors, at most
EXACT_BYTES = 32 * 2**20  # the S × S Jacobians formed at once, and their temporaries
# Arrays the size of the formed Jacobians that one tangent step and the SVD
# hold at once (the gate pre-activations and products of ``cell.jvp``)
EXACT_TEMPORARIES = 8
# All of it: a chunk's records and vectors, the arrays made from them, the exact SVDs
WORKING_BYTES = 2 * LANCZOS_BYTES + EXACT_BYTES


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
    record_bytes = 8 * sum(value.shape[-1] for value in flat.values())
    per_problem = record_bytes + 8 * state_size * LANCZOS_TEMPORARIES
    chunk_size = max(1, min(PROBLEMS_PER_CHUNK, LANCZOS_BYTES // per_problem))
    with np.errstate(all="ignore"):
        rows = np.flatnonzero(finite)
        for start in range(0, len(rows), chunk_size):
            chunk = rows[start : start + chunk_size]
            norms[chunk] = solve(cell, _take(flat, chunk), state_size)
    return norms.reshape(T, B)


def _take(flat, rows):
    return {name: value[rows] for name, value in flat.items()}


def exact_rows_per_chunk(state_size):
    """How many S × S Jacobians ``_exact_norms`` forms at once (at least one)."""
    one = state_size * state_size * 8 * EXACT_TEMPORARIES
    return max(1, EXACT_BYTES // one)


def _exact_norms(cell, flat, state_size):
    """Form each J_t from S tangent steps along the unit vectors; exact SVD.

    flat: arrays (n, 1, ·); a chunk of ``exact_rows_per_chunk`` steps at a time."""
    n = len(next(iter(flat.values())))
    rows = exact_rows_per_chunk(state_size)
    norms = np.empty(n)
    eye = np.eye(state_size)
    for start in range(0, n, rows):
        part = slice(start, min(n, start + rows))
        chunk = {name: value[part] for name, value in flat.items()}
        basis = np.broadcast_to(eye, (part.stop - part.start, state_size, state_size))
        columns = cell.jvp(chunk, basis)  # [k, j, :] = J_k e_j, so each is J_kᵀ
        norms[part] = np.linalg.svd(columns, compute_uv=False)[:, 0]
    return norms


def _lanczos_norms(cell, flat, state_size):
    """√λ_max(J_tᵀJ_t) by batched Lanczos; exact SVD for any step left unconverged.

    A step stops when its top Ritz pair (θ, y) has residual ‖Aŷ − θŷ‖ = β_k |y_k|
    below ``RELATIVE_RESIDUAL``·θ: an eigenvalue of A then lies within that
    distance of θ. Without re-orthogonalisation the Lanczos vectors lose
    orthogonality only as Ritz values converge (Paige), which leaves the top
    Ritz pair accurate.
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
            theta, last_component = _top_ritz_pair(alpha[:, : k + 1], beta[:, :k])
            done = b * last_component <= RELATIVE_RESIDUAL * theta
            norms[active[done]] = np.sqrt(np.maximum(theta[done], 0.0))
            keep = ~done
            active = active[keep]
            if not len(active):
                break
            if not keep.all():
                flat = _take(flat, keep)
                q, w, b, q_prev = q[keep], w[keep], b[keep], q_prev[keep]
                alpha, beta = alpha[keep], beta[keep]
        q_prev, q = q, w / np.where(b > 0.0, b, 1.0)[:, None]
    if len(active):  # not converged within max_steps: form these few exactly
        flat = {name: value[:, None] for name, value in flat.items()}
        norms[active] = _exact_norms(cell, flat, S)
    return norms


def _top_ritz_pair(alpha, beta):
    """The top eigenvalue θ of each symmetric tridiagonal and |last entry| of its eigenvector.

    alpha (n, k) the diagonals, beta (n, k − 1) the off-diagonals. θ: Laguerre's
    iteration on det(T − xI) from Gershgorin's upper bound, which for a
    polynomial with real roots falls monotonically and cubically onto the
    largest root. The eigenvector: inverse iteration with the shift just above
    θ, where T − shift·I is negative definite and its LDLᵀ solve is stable.
    """
    n, k = alpha.shape
    off = np.abs(beta)
    radius = np.zeros_like(alpha)
    radius[:, :-1] += off
    radius[:, 1:] += off
    x = (alpha + radius).max(axis=1)  # Gershgorin: above every eigenvalue
    squared = beta * beta
    settled = np.zeros(n, dtype=bool)
    for _ in range(LAGUERRE_STEPS):
        g, h = _log_derivatives(alpha, squared, x)  # Σ 1/(x − θ_i), Σ 1/(x − θ_i)²
        step = k / (g + np.sqrt(np.maximum((k - 1) * (k * h - g * g), 0.0)))
        # From above, every step is downwards; once it is rounding noise, stop.
        settled |= ~(step > 1e-15 * np.abs(x))
        x = np.where(settled, x, x - step)
        if settled.all():
            break
    shift = x + 1e-12 * np.abs(x) + np.finfo(float).tiny
    pivots = _pivots(alpha, squared, shift)
    y = np.ones((n, k))
    for _ in range(2):
        y = _solve_tridiagonal(pivots, beta, y)
        y /= np.linalg.norm(y, axis=1, keepdims=True)
    return x, np.abs(y[:, -1])


def _log_derivatives(alpha, squared_beta, x):
    """G = Σ_i 1/(x − θ_i) and H = Σ_i 1/(x − θ_i)² over T's eigenvalues θ_i, (n,) each.

    With d_j the pivots of T − xI (det = Π d_j): G = Σ d_j'/d_j, H = Σ (d_j'² − d_j d_j'')/d_j².
    """
    tiny = np.finfo(float).tiny
    d = alpha[:, 0] - x
    d1 = -np.ones_like(x)
    d2 = np.zeros_like(x)
    g = np.zeros_like(x)
    h = np.zeros_like(x)
    for j in range(alpha.shape[1]):
        if j:
            b = squared_beta[:, j - 1]
            d, d1, d2 = (
                alpha[:, j] - x - b / d,
                -1.0 + b * d1 / (d * d),
                b * (d2 / (d * d) - 2.0 * d1 * d1 / (d * d * d)),
            )
        d = np.where(d == 0.0, -tiny, d)
        g += d1 / d
        h += (d1 * d1 - d * d2) / (d * d)
    return g, h


def _pivots(alpha, squared_beta, x):
    """The pivots d_j of the LDLᵀ factors of T − xI, (n, k); x (n,)."""
    pivots = np.empty_like(alpha)
    d = alpha[:, 0] - x
    for j in range(alpha.shape[1]):
        if j:
            d = alpha[:, j] - x - squared_beta[:, j - 1] / d
        d = np.where(d == 0.0, -np.finfo(float).tiny, d)
        pivots[:, j] = d
    return pivots


def _solve_tridiagonal(pivots, beta, rhs):
    """Solve (T − xI) y = rhs given the pivots of its LDLᵀ factors; all (n, k)."""
    k = pivots.shape[1]
    z = rhs.copy()
    for j in range(1, k):  # forward: L z = rhs
        z[:, j] -= beta[:, j - 1] / pivots[:, j - 1] * z[:, j - 1]
    y = np.empty_like(z)
    y[:, -1] = z[:, -1] / pivots[:, -1]
    for j in range(k - 2, -1, -1):  # back: D Lᵀ y = z
        y[:, j] = (z[:, j] - beta[:, j] * y[:, j + 1]) / pivots[:, j]
    return y
