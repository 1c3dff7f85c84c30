"""Small pieces every cell shares.

Every cell runs one model or M stacked models (``engine.stack``) with the same
code: one model's weights are (R, C), its biases (R,), a step's state (B, H)
and a sweep's values (T, B, ·); M models add a leading M to each weight and
bias ((M, R, C)) and the model axis after time to the values ((M, B, H) per
step, (T, M, B, ·) per sweep). NumPy's matmul broadcasts over the model axis,
so each model's products are its own, the same as when it runs alone.
"""

import numpy as np


def transposed(W):
    """Each matrix's transpose, a view: (…, R, C) → (…, C, R)."""
    return W.swapaxes(-1, -2)


def along_batch(b):
    """A bias (…, R) as (…, 1, R), to add to values (…, B, R) of every sequence."""
    return b[..., None, :]


def _rows(a):
    """Values (T, B, R) as rows (T·B, R); stacked (T, M, B, R) as each model's
    rows (M, T·B, R): for one sequence per model (B = 1) a view, rows M·R
    apart (BLAS reads them in place, with the same kernel and order as one
    model's contiguous rows), else a contiguous copy."""
    if a.ndim == 3:
        return a.reshape(-1, a.shape[-1])
    if a.shape[2] == 1:
        return a[:, :, 0, :].swapaxes(0, 1)
    return np.ascontiguousarray(np.moveaxis(a, 1, 0)).reshape(a.shape[1], -1, a.shape[-1])


def rows_product(a, W):
    """a_t W for every step, as one product per model over all its rows:
    a (T, [M,] B, C), W ([M,] C, R) → (T, [M,] B, R), a fresh C-contiguous array.

    One BLAS call per model instead of one per step and model: for 41 stacked
    models at T = 100 the input drives took 480 µs as T·M small products and
    take 110 µs this way. W is copied contiguous (BLAS runs it faster).
    """
    rows = _rows(a)
    if rows.strides[-2] < 0:  # a sweep read backwards: BLAS wants forward rows
        rows = np.ascontiguousarray(rows)
    out = np.empty((*a.shape[:-1], W.shape[-1]))
    product = np.matmul(
        rows, np.ascontiguousarray(W), out=_rows(out) if a.shape[-2] == 1 or a.ndim == 3 else None
    )
    if a.ndim == 4 and a.shape[-2] > 1:  # the copy's rows back in (T, M, B, R) order
        out[...] = np.moveaxis(product.reshape(a.shape[1], a.shape[0], a.shape[2], -1), 0, 1)
    return out


def input_drives(x, W_ih, b):
    """x_t W_ihᵀ + b for every step: x (T, [M,] B, D), W_ih ([M,] R, D),
    b ([M,] 1, R) → (T, [M,] B, R), a fresh C-contiguous array the caller may
    write over (the LSTM turns it into its gates step by step)."""
    drive = rows_product(x, transposed(W_ih))
    drive += b
    return drive


def step_weights(W, batch):
    """Wᵀ for each step's product s_{t−1} Wᵀ: W ([M,] R, C) → ([M,] C, R).

    For a batch, a contiguous copy: BLAS multiplies a (B × C) matrix by it
    some 30% faster than by the transposed view. The products and sums are
    the same, but for some shapes (mostly B ≤ 16 with C ≥ 16) OpenBLAS takes
    another kernel for it, whose last bit can differ from the view's; at
    B = 32 with R ≥ 4C, as an LSTM's, none did. For one sequence (batch 1)
    the view: its products are vector·matrix ones (gemv), which would sum in
    another order with the copy, and their bits stay as they were.
    """
    return transposed(W) if batch == 1 else np.ascontiguousarray(transposed(W))


def step_product(W):
    """The product for each step's s_{t−1}·W: np.dot for one model's 2-D W,
    np.matmul for stacked (M, ·, ·) ones (each model's own). Both make the
    same BLAS call; dot skips matmul's broadcasting machinery, about 1 µs of
    a 6 µs step product at B = 32, H = 32."""
    return np.matmul if W.ndim > 2 else np.dot


def summed_outer(a, b):
    """Σ over time and batch of the outer products a bᵀ, each model's own.

    a: (T, [M,] B, R), b: (T, [M,] B, C) → ([M,] R, C). This is how the
    weights shared by all time steps gather their gradient: Σ_t a_t b_tᵀ.

    Computed as (bᵀ a)ᵀ: the same sums over the T·B rows in the same order
    (bit for bit the same as aᵀb over 1,664 shapes tried), but BLAS runs the
    wide gate axis R along the product's rows faster (some 25% at R = 128,
    C = 32, T·B = 1600).
    """
    return np.ascontiguousarray(transposed(transposed(_rows(b)) @ _rows(a)))


def summed(a):
    """Σ over time and batch, each model's own: a (T, [M,] B, R) → ([M,] R)."""
    rows = _rows(a)
    if a.shape[-1] == 1:  # one model's (T·B, 1) is summed pairwise, as a contiguous row is
        return np.ascontiguousarray(rows[..., 0]).sum(axis=-1)[..., None]
    return rows.sum(axis=-2)


def previous(first, sequence):
    """The sequence shifted one step later in time: [first, s_0, …, s_{T−2}].

    first: (…, N), sequence: (T, …, N) → (T, …, N).
    """
    return np.concatenate([first[None], sequence[:-1]])


def copied_steps(prefix, **arrays):
    """Copy an earlier forward sweep's first n steps into this one's arrays.

    prefix: None, or (that sweep's record, n) from ``simulate``'s ``reuse``;
    arrays: record field name → this sweep's (T, …) array of that field.
    Returns n, the first step left to compute (0 without a prefix).
    """
    if prefix is None:
        return 0
    record, n = prefix
    for name, array in arrays.items():
        array[:n] = record[name][:n]
    return n


def shared_weight_grads(grad_pre, x, recurrent_input):
    """∂L/∂(weight_ih, weight_hh, bias_ih, bias_hh) when both biases add to a_t.

    grad_pre (T, [M,] B, G·H): ∂L/∂a_t; x (T, [M,] B, D); recurrent_input
    (T, [M,] B, ·): what W_hh multiplies at step t (h_{t−1}, or y_{t−1} for
    jordan). Stacked, each gradient has the leading M.
    """
    bias = summed(grad_pre)  # the same sum for both biases: computed once
    return {
        "weight_ih": summed_outer(grad_pre, x),
        "weight_hh": summed_outer(grad_pre, recurrent_input),
        "bias_ih": bias,
        "bias_hh": bias.copy(),
    }
