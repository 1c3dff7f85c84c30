"""The minimal gated unit (notes 000, eq. 16-18), rows of the weights [f; n].

One gate serves as both reset and update gate:

    f_t = σ(W_if x_t + b_if + W_hf h_{t−1} + b_hf)
    n_t = act(W_in x_t + b_in + W_hn (f_t ⊙ h_{t−1}) + b_hn)
    h_t = f_t ⊙ h_{t−1} + (1 − f_t) ⊙ n_t

BPTT, with δ = ∂L/∂h_t:

    ∂L/∂a_n = δ ⊙ (1 − f) ⊙ act',   ∂L/∂(f⊙h) = W_hnᵀ ∂L/∂a_n
    ∂L/∂f = δ ⊙ (h_{t−1} − n) + ∂L/∂(f⊙h) ⊙ h_{t−1},   ∂L/∂a_f = ∂L/∂f ⊙ f(1 − f)
    ∂L/∂h_{t−1} = δ ⊙ f + ∂L/∂(f⊙h) ⊙ f + W_hfᵀ ∂L/∂a_f
"""

import numpy as np

from engine.cells.common import (
    along_batch,
    copied_steps,
    input_drives,
    previous,
    summed,
    summed_outer,
    transposed,
)
from engine.functions import activation, sigmoid


class MGU:
    gate_names = ("forget", "candidate")

    def __init__(self, params, activation_name):
        W_hh = params["weight_hh"]
        H = W_hh.shape[-1]
        self.H = H
        self.W_ih = params["weight_ih"]  # ([M,] 2H, D)
        # ([M,] 1, 2H): both biases add to the pre-activations
        self.b_in_all = along_batch(params["bias_ih"] + params["bias_hh"])
        self.W_hf = W_hh[..., :H, :]  # ([M,] H, H)
        self.W_hn = W_hh[..., H:, :]  # ([M,] H, H)
        self.act, self.act_slope = activation(activation_name)

    def forward(self, x, h0, prefix=None):
        """x (T, [M,] B, D), h0 ([M,] B, H) → record: hidden, forget, candidate (T, [M,] B, H), …

        prefix: None, or (an earlier record, n) whose first n steps are this
        sweep's (``simulate``'s ``reuse``); they are copied, not computed."""
        H = self.H
        input_drive = input_drives(x, self.W_ih, self.b_in_all)  # (T, [M,] B, 2H)
        hidden, forget, candidate = (np.empty((*x.shape[:-1], H)) for _ in range(3))
        W_hf_T, W_hn_T = transposed(self.W_hf), transposed(self.W_hn)
        start = copied_steps(prefix, hidden=hidden, forget=forget, candidate=candidate)
        h = hidden[start - 1] if start else h0
        for t in range(start, len(x)):
            f = sigmoid(input_drive[t, ..., :H] + np.matmul(h, W_hf_T))
            n = self.act(input_drive[t, ..., H:] + np.matmul(f * h, W_hn_T))
            h = f * h + (1.0 - f) * n
            hidden[t], forget[t], candidate[t] = h, f, n
        return {
            "x": x,
            "hidden": hidden,
            "forget": forget,
            "candidate": candidate,
            "h_prev": previous(h0, hidden),
            "slope_f": forget * (1.0 - forget),
            "slope_n": self.act_slope(candidate),
        }

    def _step_back(self, dh, f, n, h_prev, slope_f, slope_n):
        """From δ = ∂L/∂h_t to (∂L/∂h_{t−1}, ∂L/∂a_f, ∂L/∂a_n)."""
        da_n = dh * (1.0 - f) * slope_n  # back through act
        d_forget_h = np.matmul(da_n, self.W_hn)  # ∂L/∂(f ⊙ h_{t−1})
        da_f = (dh * (h_prev - n) + d_forget_h * h_prev) * slope_f
        dh_prev = (dh + d_forget_h) * f + np.matmul(da_f, self.W_hf)
        return dh_prev, da_f, da_n

    def _at(self, record, t):
        return (
            record["forget"][t],
            record["candidate"][t],
            record["h_prev"][t],
            record["slope_f"][t],
            record["slope_n"][t],
        )

    def backward(self, record, grad, cut):
        """BPTT; grad (T, [M,] B, H) is ∂L/∂h_t through the readout alone."""
        grad_hidden = np.empty_like(grad)
        grad_f = np.empty_like(grad)  # ∂L/∂a_f
        grad_n = np.empty_like(grad)  # ∂L/∂a_n
        dh_next = 0.0
        for t in reversed(range(len(grad))):
            dh = grad[t] if cut[t] else grad[t] + dh_next
            grad_hidden[t] = dh
            dh_next, grad_f[t], grad_n[t] = self._step_back(dh, *self._at(record, t))

        def grads():
            h_prev = record["h_prev"]
            grad_pre = np.concatenate([grad_f, grad_n], axis=-1)
            return {
                "weight_ih": summed_outer(grad_pre, record["x"]),
                "weight_hh": np.concatenate(
                    [
                        summed_outer(grad_f, h_prev),
                        summed_outer(grad_n, record["forget"] * h_prev),
                    ],
                    axis=-2,
                ),
                "bias_ih": summed(grad_pre),
                "bias_hh": summed(grad_pre),
            }

        return grad_hidden, None, grads

    def jvp(self, record, v):
        """J_t v, v (N, K, H): the tangent of one step, h_{t−1} moved along v."""
        f, n, h_prev, slope_f, slope_n = self._at(record, slice(None))
        df = slope_f * np.matmul(v, transposed(self.W_hf))
        dn = slope_n * np.matmul(df * h_prev + f * v, transposed(self.W_hn))
        return df * (h_prev - n) + f * v + (1.0 - f) * dn

    def vjp(self, record, u):
        """J_tᵀ u, u (N, K, H): one step of BPTT."""
        return self._step_back(u, *self._at(record, slice(None)))[0]
