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
