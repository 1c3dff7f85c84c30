"""The Elman network: the plain recurrent cell.

    a_t = W_ih x_t + b_ih + W_hh h_{t−1} + b_hh
    h_t = act(a_t)

BPTT (notes 002, "gradients summed over time"):

    ∂L/∂h_t = ∂L_t/∂h_t + W_hhᵀ ∂L/∂a_{t+1}        (the second term within a chunk)
    ∂L/∂a_t = ∂L/∂h_t ⊙ act'(a_t)
    ∂L/∂W_hh = Σ_t ∂L/∂a_t h_{t−1}ᵀ,  ∂L/∂W_ih = Σ_t ∂L/∂a_t x_tᵀ

so ∂h_t/∂h_{t−1} = diag(act'(a_t)) W_hh: with one linear unit it is the
recurrent weight w, and fifty steps back the gradient has been multiplied by w⁵⁰.
"""

from functools import partial

import numpy as np

from engine.cells.common import (
    along_batch,
    copied_steps,
    input_drives,
    previous,
    shared_weight_grads,
    transposed,
)
from engine.functions import activation


class Elman:
    gate_names = ()

    def __init__(self, params, activation_name):
        self.W_ih = params["weight_ih"]  # ([M,] H, D)
        self.W_hh = params["weight_hh"]  # ([M,] H, H)
        self.b = along_batch(params["bias_ih"] + params["bias_hh"])  # ([M,] 1, H)
        self.act, self.act_slope = activation(activation_name)

    def forward(self, x, h0, prefix=None):
        """x (T, [M,] B, D), h0 ([M,] B, H) → record with hidden, h_prev, slope (T, [M,] B, H).

        prefix: None, or (an earlier record, n) whose first n steps are this
        sweep's (``simulate``'s ``reuse``); they are copied, not computed."""
        input_drive = input_drives(x, self.W_ih, self.b)  # (T, [M,] B, H)
        hidden = np.empty_like(input_drive)
        W_hh_T = transposed(self.W_hh)
        start = copied_steps(prefix, hidden=hidden)
        h = hidden[start - 1] if start else h0
        for t in range(start, len(x)):
            h = np.matmul(h, W_hh_T, out=hidden[t])
            h += input_drive[t]
            self.act(h, out=h)
        return {
            "x": x,
            "hidden": hidden,
            "h_prev": previous(h0, hidden),
            "slope": self.act_slope(hidden),  # act'(a_t)
        }

    def backward(self, record, grad, cut):
        """BPTT; grad (T, [M,] B, H) is ∂L/∂h_t through the readout alone."""
        slope = record["slope"]
        grad_hidden = np.empty_like(grad)
        grad_pre = np.empty_like(grad)  # ∂L/∂a_t
        dh_next = 0.0  # ∂L/∂h_t through step t + 1
        for t in reversed(range(len(grad))):
            dh = np.add(grad[t], 0.0 if cut[t] else dh_next, out=grad_hidden[t])
            da = np.multiply(dh, slope[t], out=grad_pre[t])  # back through act
            dh_next = np.matmul(da, self.W_hh)  # back through W_hh h_{t−1}
        grads = partial(shared_weight_grads, grad_pre, record["x"], record["h_prev"])
        return grad_hidden, None, grads

    def jvp(self, record, v):
        """J_t v = act'(a_t) ⊙ (W_hh v); v (N, K, H)."""
        return record["slope"] * np.matmul(v, transposed(self.W_hh))

    def vjp(self, record, u):
        """J_tᵀ u = W_hhᵀ (act'(a_t) ⊙ u); u (N, K, H)."""
        return np.matmul(u * record["slope"], self.W_hh)
