"""The gated recurrent unit (notes 000, eq. 12-15), rows of the weights [r; z; n].

    r_t = σ(W_ir x_t + b_ir + W_hr h_{t−1} + b_hr)          reset gate
    z_t = σ(W_iz x_t + b_iz + W_hz h_{t−1} + b_hz)          update gate
    n_t = act(W_in x_t + b_in + W_hn (r_t ⊙ h_{t−1}) + b_hn)  reset_after=False (Cho et al. 2014)
    n_t = act(W_in x_t + b_in + r_t ⊙ (W_hn h_{t−1} + b_hn))  reset_after=True (PyTorch, cuDNN)
    h_t = z_t ⊙ h_{t−1} + (1 − z_t) ⊙ n_t

With z_t near 1 the state is copied (∂h_t/∂h_{t−1} ≈ I): the gradient survives.
BPTT, with δ = ∂L/∂h_t and a_r, a_z, a_n the gates' pre-activations:

    ∂L/∂z = δ ⊙ (h_{t−1} − n),   ∂L/∂n = δ ⊙ (1 − z),   ∂L/∂a_n = ∂L/∂n ⊙ act'
    reset_after=False: ∂L/∂(r⊙h) = W_hnᵀ ∂L/∂a_n, ∂L/∂r = ∂L/∂(r⊙h) ⊙ h_{t−1}
    reset_after=True:  ∂L/∂(W_hn h + b_hn) = ∂L/∂a_n ⊙ r, ∂L/∂r = ∂L/∂a_n ⊙ (W_hn h_{t−1} + b_hn)
    ∂L/∂h_{t−1} = δ ⊙ z + (the n path) + W_hrᵀ ∂L/∂a_r + W_hzᵀ ∂L/∂a_z
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


class GRU:
    gate_names = ("reset", "update", "candidate")

    def __init__(self, params, activation_name, reset_after):
        W_hh, b_hh = params["weight_hh"], along_batch(params["bias_hh"])
        H = W_hh.shape[-1]
        self.H = H
        self.reset_after = reset_after
        self.W_ih = params["weight_ih"]  # ([M,] 3H, D)
        self.b_ih = along_batch(params["bias_ih"])  # ([M,] 1, 3H)
        self.W_hh = W_hh  # ([M,] 3H, H)
        self.W_hrz = W_hh[..., : 2 * H, :]  # ([M,] 2H, H): rows of r and z
        self.W_hn = W_hh[..., 2 * H :, :]  # ([M,] H, H)
        self.b_hrz = b_hh[..., : 2 * H]  # ([M,] 1, 2H)
        self.b_hn = b_hh[..., 2 * H :]  # ([M,] 1, H)
        self.act, self.act_slope = activation(activation_name)

    def forward(self, x, h0, prefix=None):
        """x (T, [M,] B, D), h0 ([M,] B, H) → record: hidden, reset, update and
        candidate (T, [M,] B, H), …

        prefix: None, or (an earlier record, n) whose first n steps are this
        sweep's (``simulate``'s ``reuse``); they are copied, not computed."""
        H = self.H
        input_drive = input_drives(x, self.W_ih, self.b_ih)  # (T, [M,] B, 3H)
        input_drive[..., : 2 * H] += self.b_hrz
        if not self.reset_after:
            input_drive[..., 2 * H :] += self.b_hn
        steps = x.shape[:-1]  # (T, [M,] B)
        hidden, candidate = np.empty((*steps, H)), np.empty((*steps, H))
        reset_update = np.empty((*steps, 2 * H))
        recurrent_n = np.empty((*steps, H)) if self.reset_after else None  # W_hn h + b_hn
        W_hrz_T, W_hn_T = transposed(self.W_hrz), transposed(self.W_hn)
        looped = {"reset_update": reset_update, "candidate": candidate, "hidden": hidden}
        if self.reset_after:
            looped["recurrent_n"] = recurrent_n
        start = copied_steps(prefix, **looped)
        h = hidden[start - 1] if start else h0
        for t in range(start, len(x)):
            rz = np.matmul(h, W_hrz_T, out=reset_update[t])
            rz += input_drive[t, ..., : 2 * H]
            sigmoid(rz, out=rz)
            r, z = rz[..., :H], rz[..., H:]
            n = candidate[t]
            if self.reset_after:
                hn = np.matmul(h, W_hn_T, out=recurrent_n[t])
                hn += self.b_hn
                np.multiply(r, hn, out=n)
            else:
                np.matmul(r * h, W_hn_T, out=n)
            n += input_drive[t, ..., 2 * H :]
            self.act(n, out=n)
            h = np.multiply(z, h, out=hidden[t])
            h += (1.0 - z) * n
        reset, update = reset_update[..., :H], reset_update[..., H:]
        return {
            "x": x,
            "hidden": hidden,
            "reset_update": reset_update,
            "reset": reset,
            "update": update,
            "candidate": candidate,
            "h_prev": previous(h0, hidden),
            "recurrent_n": recurrent_n,
            "slope_r": reset * (1.0 - reset),
            "slope_z": update * (1.0 - update),
            "slope_n": self.act_slope(candidate),
        }

    def _backward_factors(self, record):
        """Per-step factors of the backward loop, (T, [M,] B, H) each, so that
        ∂L/∂a_z = δ ⊙ from_z, ∂L/∂a_n = δ ⊙ from_n and ∂L/∂a_r = (the product
        that r multiplies: W_hnᵀ ∂L/∂a_n, or ∂L/∂a_n) ⊙ from_r."""
        reset_reads = record["recurrent_n"] if self.reset_after else record["h_prev"]
        return (
            (record["h_prev"] - record["candidate"]) * record["slope_z"],
            (1.0 - record["update"]) * record["slope_n"],
            reset_reads * record["slope_r"],
        )

    def _step_back(self, dh, r, z, n, h_prev, hn, slope_r, slope_z, slope_n):
        """From δ = ∂L/∂h_t to ∂L/∂h_{t−1} and the pre-activation gradients.

        Returns (∂L/∂h_{t−1}, ∂L/∂[a_r, a_z], ∂L/∂a_n, ∂L/∂ of the W_hn product).
        """
        dz = dh * (h_prev - n)
        da_n = dh * (1.0 - z) * slope_n  # back through act
        if self.reset_after:
            d_recurrent_n = da_n * r  # ∂L/∂(W_hn h_{t−1} + b_hn)
            dr = da_n * hn
            dh_prev = dh * z + np.matmul(d_recurrent_n, self.W_hn)
        else:
            d_reset_h = np.matmul(da_n, self.W_hn)  # ∂L/∂(r ⊙ h_{t−1})
            d_recurrent_n = da_n
            dr = d_reset_h * h_prev
            dh_prev = dh * z + d_reset_h * r
        da_rz = np.concatenate([dr * slope_r, dz * slope_z], axis=-1)
        dh_prev = dh_prev + np.matmul(da_rz, self.W_hrz)
        return dh_prev, da_rz, da_n, d_recurrent_n

    def _at(self, record, t):
        hn = record.get("recurrent_n")
        return (
            record["reset"][t],
            record["update"][t],
            record["candidate"][t],
            record["h_prev"][t],
            None if hn is None else hn[t],
            record["slope_r"][t],
            record["slope_z"][t],
            record["slope_n"][t],
        )

    def backward(self, record, grad, cut):
        """BPTT; grad (T, [M,] B, H) is ∂L/∂h_t through the readout alone."""
        H = self.H
        grad_hidden = np.empty_like(grad)
        grad_n = np.empty_like(grad)  # ∂L/∂a_n
        # ∂L/∂[a_r, a_z] and, when the reset gate applies after W_hn, ∂L/∂(W_hn h + b_hn)
        # beside it: then one product with W_hh takes each step back through all three.
        grad_hh = np.empty((*grad.shape[:-1], 3 * H if self.reset_after else 2 * H))
        grad_rz = grad_hh[..., : 2 * H]
        grad_recurrent_n = grad_hh[..., 2 * H :] if self.reset_after else grad_n
        from_z, from_n, from_r = self._backward_factors(record)
        reset, update = record["reset"], record["update"]
        dh_next = 0.0
        for t in reversed(range(len(grad))):
            dh = np.add(grad[t], 0.0 if cut[t] else dh_next, out=grad_hidden[t])
            da_n = np.multiply(dh, from_n[t], out=grad_n[t])
            np.multiply(dh, from_z[t], out=grad_rz[t, ..., H:])
            if self.reset_after:
                np.multiply(da_n, reset[t], out=grad_recurrent_n[t])
                np.multiply(da_n, from_r[t], out=grad_rz[t, ..., :H])
                dh_next = np.matmul(grad_hh[t], self.W_hh)
            else:
                d_reset_h = np.matmul(da_n, self.W_hn)  # ∂L/∂(r ⊙ h_{t−1})
                np.multiply(d_reset_h, from_r[t], out=grad_rz[t, ..., :H])
                dh_next = d_reset_h * reset[t]
                dh_next += np.matmul(grad_rz[t], self.W_hrz)
            dh_next += dh * update[t]

        def grads():
            h_prev = record["h_prev"]
            # The n block's recurrent product reads r ⊙ h_{t−1} (Cho) or h_{t−1} (PyTorch).
            n_reads = h_prev if self.reset_after else record["reset"] * h_prev
            grad_ih = np.concatenate([grad_rz, grad_n], axis=-1)
            grad_pre_hh = grad_hh if self.reset_after else grad_ih
            return {
                "weight_ih": summed_outer(grad_ih, record["x"]),
                "weight_hh": np.concatenate(
                    [summed_outer(grad_rz, h_prev), summed_outer(grad_recurrent_n, n_reads)],
                    axis=-2,
                ),
                "bias_ih": summed(grad_ih),
                "bias_hh": summed(grad_pre_hh),
            }

        return grad_hidden, None, grads

    def jvp(self, record, v):
        """J_t v, v (N, K, H): the tangent of one step, h_{t−1} moved along v."""
        H = self.H
        r, z, n, h_prev, hn, slope_r, slope_z, slope_n = self._at(record, slice(None))
        pre_rz = np.matmul(v, transposed(self.W_hrz))
        dr, dz = slope_r * pre_rz[..., :H], slope_z * pre_rz[..., H:]
        if self.reset_after:
            dn = slope_n * (dr * hn + r * np.matmul(v, transposed(self.W_hn)))
        else:
            dn = slope_n * np.matmul(dr * h_prev + r * v, transposed(self.W_hn))
        return dz * (h_prev - n) + z * v + (1.0 - z) * dn

    def vjp(self, record, u):
        """J_tᵀ u, u (N, K, H): one step of BPTT."""
        return self._step_back(u, *self._at(record, slice(None)))[0]
