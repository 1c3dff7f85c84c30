"""Small pieces every cell shares."""

import numpy as np


def summed_outer(a, b):
    """Σ over every leading axis of the outer products a bᵀ.

    a: (..., M), b: (..., N) with the same leading shape → (M, N). This is how
    the weights shared by all time steps gather their gradient: Σ_t a_t b_tᵀ.
    """
    return a.reshape(-1, a.shape[-1]).T @ b.reshape(-1, b.shape[-1])


def summed(a):
    """Σ over every leading axis: a (..., M) → (M,)."""
    return a.reshape(-1, a.shape[-1]).sum(axis=0)


def previous(first, sequence):
    """The sequence shifted one step later in time: [first, s_0, …, s_{T−2}].

    first: (B, N), sequence: (T, B, N) → (T, B, N).
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

    grad_pre (T, B, G·H): ∂L/∂a_t; x (T, B, D); recurrent_input (T, B, ·): what
    W_hh multiplies at step t (h_{t−1}, or y_{t−1} for jordan).
    """
    return {
        "weight_ih": summed_outer(grad_pre, x),
        "weight_hh": summed_outer(grad_pre, recurrent_input),
        "bias_ih": summed(grad_pre),
        "bias_hh": summed(grad_pre),
    }
