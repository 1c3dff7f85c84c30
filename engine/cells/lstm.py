"""Long short-term memory (notes 000, eq. 19-29), rows of the weights [i; f; g; o].

    i_t = σ(W_ii x_t + b_ii + W_hi h_{t−1} + b_hi)   input gate
    f_t = σ(W_if x_t + b_if + W_hf h_{t−1} + b_hf)   forget gate
    g_t = act(W_ig x_t + b_ig + W_hg h_{t−1} + b_hg) candidate
    o_t = σ(W_io x_t + b_io + W_ho h_{t−1} + b_ho)   output gate
    c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t
    h_t = o_t ⊙ act(c_t)

Without the forget gate (eq. 19-23) the rows are [i; g; o] and c_t = c_{t−1} + i_t ⊙ g_t.
The state is s = (h, c). The cell path ∂c_t/∂c_{t−1} = diag(f_t) is where the
gradient is carried: it is multiplied by f, not by a weight matrix.

BPTT, with δh = ∂L/∂h_t and δc the gradient reaching c_t from c_{t+1}:

    ∂L/∂c_t = δc + δh ⊙ o ⊙ act'(c_t)
    ∂L/∂o = δh ⊙ act(c_t),  ∂L/∂i = ∂L/∂c_t ⊙ g,  ∂L/∂g = ∂L/∂c_t ⊙ i,  ∂L/∂f = ∂L/∂c_t ⊙ c_{t−1}
    ∂L/∂c_{t−1} = ∂L/∂c_t ⊙ f,   ∂L/∂h_{t−1} = W_hhᵀ ∂L/∂a_t
"""

from functools import partial

import numpy as np

from engine.cells.common import (
    along_batch,
    copied_steps,
    input_drives,
    shared_weight_grads,
    step_product,
    step_weights,
    transposed,
)
from engine.functions import activation, sigmoid


class LSTM:
    def __init__(self, params, activation_name, forget_gate):
        self.W_ih = params["weight_ih"]  # ([M,] G·H, D)
        self.W_hh = params["weight_hh"]  # ([M,] G·H, H)
        self.b = along_batch(
            params["bias_ih"] + params["bias_hh"]
        )  # ([M,] 1, G·H): both add to a_t
        H = self.W_hh.shape[-1]
        self.H = H
        self.forget_gate = forget_gate
        self.gate_names = (
            ("input", "forget", "candidate", "output")
            if forget_gate
            else ("input", "candidate", "output")
        )
        block = {name: slice(k * H, (k + 1) * H) for k, name in enumerate(self.gate_names)}
        self.i, self.g, self.o = block["input"], block["candidate"], block["output"]
        self.f = block.get("forget")
        self.act, self.act_slope = activation(activation_name)

    def forward(self, x, h0, prefix=None):
        """x (T, [M,] B, D), h0 ([M,] B, H) → record: hidden, cell and each gate (T, [M,] B, H), …

        prefix: None, or (an earlier record, n) whose first n steps are this
        sweep's (``simulate``'s ``reuse``); they are copied, not computed."""
        steps = x.shape[:-1]  # (T, [M,] B)
        H = self.H
        i_, f_, g_, o_ = self.i, self.f, self.g, self.o
        # Every gate's activation in row order, (T, [M,] B, G·H): until step t
        # is computed, gates[t] holds its input drive x_t W_ihᵀ + b.
        gates = input_drives(x, self.W_ih, self.b)
        recurrent_drive = np.empty(gates.shape[1:])  # h_{t−1} W_hhᵀ
        T = len(x)
        # h_{t−1} and c_{t−1} for t = 0 … T, with h_{−1} = h0 and c_{−1} = 0 in
        # row 0: hidden (h_t) and h_prev (h_{t−1}) are views of one array, not copies.
        hidden_from = np.empty((T + 1, *steps[1:], H))
        hidden_from[0] = h0
        hidden, h_prev = hidden_from[1:], hidden_from[:-1]
        cell_from = np.empty((T + 1, *steps[1:], H))
        cell_from[0] = 0.0
        cell, c_prev = cell_from[1:], cell_from[:-1]
        W_hh_T = step_weights(self.W_hh, batch=x.shape[-2])
        product = step_product(W_hh_T)
        # g_t, contiguous for the loop's products, written into gates after it.
        candidates = np.empty((*steps, H))
        input_and_candidate = np.empty((*steps[1:], H))  # i_t ⊙ g_t
        # What multiplies ∂L/∂c_t (∂L/∂h_t for the output gate) to give each
        # gate's ∂L/∂a_t, and ∂h_t/∂c_t: per step, so a prefix's are copied too.
        gate_slope, act_cell, cell_to_hidden = (
            np.empty_like(gates),
            np.empty_like(cell),
            np.empty_like(cell),
        )
        start = copied_steps(
            prefix,
            gates=gates,
            hidden=hidden,
            cell=cell,
            gate_slope=gate_slope,
            act_cell=act_cell,
            cell_to_hidden=cell_to_hidden,
        )
        # Each gate's (T, [M,] B, H) view, made once: the loop only indexes the step.
        input_gate, candidate_drive, output_gate = gates[..., i_], gates[..., g_], gates[..., o_]
        forget_gate = gates[..., f_] if self.forget_gate else None
        act = self.act
        # h0 itself, not its copy in row 0: a broadcast h0 is multiplied as before.
        h, c = (hidden[start - 1], cell[start - 1]) if start else (h0, cell_from[0])
        for t in range(start, T):
            z = gates[t]  # a_t, then each gate in its place
            z += product(h, W_hh_T, out=recurrent_drive)
            candidate = act(candidate_drive[t], out=candidates[t])
            sigmoid(z, out=z)  # g's place holds σ(a_g) until after the loop
            np.multiply(candidate, input_gate[t], out=input_and_candidate)
            if forget_gate is not None:
                c = np.multiply(forget_gate[t], c, out=cell[t])
                c += input_and_candidate
            else:
                c = np.add(c, input_and_candidate, out=cell[t])
            h = np.multiply(act(c, out=act_cell[t]), output_gate[t], out=hidden[t])
        new = slice(start, T)
        new_gates = gates[new]
        new_gates[..., g_] = candidates[new]
        # Written in place into gate_slope[new] (a fresh temporary costs its
        # pages' first touch), reading contiguous arrays where there is one: at
        # H = 32 a pass over one gate's strided (T, B, H) columns costs about as
        # much as one over the whole (T, B, G·H).
        slope = np.subtract(1.0, new_gates, out=gate_slope[new])
        slope *= new_gates  # σ' of each gate
        # ∂c_t/∂i = g, ∂c_t/∂f = c_{t−1}, ∂c_t/∂g = i, ∂h_t/∂o = act(c_t).
        # act'(g_t) on the contiguous candidates, then one strided pass for g's place.
        np.multiply(self.act_slope(candidates[new]), new_gates[..., i_], out=slope[..., g_])
        slope[..., i_] *= candidates[new]
        if self.forget_gate:
            slope[..., f_] *= c_prev[new]
        slope[..., o_] *= act_cell[new]
        to_hidden = self.act_slope(act_cell[new], out=cell_to_hidden[new])
        to_hidden *= new_gates[..., o_]
        rows = {"input": i_, "forget": f_, "candidate": g_, "output": o_}
        record = {
            "x": x,
            "hidden": hidden,
            "cell": cell,
            "gates": gates,
            "gate_slope": gate_slope,
            "act_cell": act_cell,
            "cell_to_hidden": cell_to_hidden,  # ∂h_t/∂c_t
            "h_prev": h_prev,
        }
        for name in self.gate_names:
            record[name] = gates[..., rows[name]]
        return record

    def _step_back(self, dh, dc_later, gate_slope, cell_to_hidden, forget):
        """One step back from δh = ∂L/∂h_t and δc (from c_{t+1}).

        Returns (∂L/∂a_t, ∂L/∂c_t, ∂L/∂c_{t−1}).
        """
        dc = dc_later + dh * cell_to_hidden
        if self.forget_gate:
            dc, dh = np.broadcast_arrays(dc, dh)
            da = gate_slope * np.concatenate([dc, dc, dc, dh], axis=-1)
            return da, dc, dc * forget
        dc, dh = np.broadcast_arrays(dc, dh)
        return gate_slope * np.concatenate([dc, dc, dh], axis=-1), dc, dc

    def _at(self, record, t):
        forget = record["forget"][t] if self.forget_gate else None
        return record["gate_slope"][t], record["cell_to_hidden"][t], forget

    def backward(self, record, grad, cut):
        """BPTT; grad (T, [M,] B, H) is ∂L/∂h_t through the readout alone."""
        H = self.H
        grad_hidden = np.empty_like(grad)
        grad_cell = np.empty_like(grad)
        grad_pre = np.empty(record["gates"].shape)  # ∂L/∂a_t
        # Gate by gate, (T, [M,] B, G, H): every gate but the last (output) takes ∂L/∂c_t.
        da_by_gate = grad_pre.reshape(*grad.shape[:-1], -1, H)
        slope_by_gate = record["gate_slope"].reshape(*grad.shape[:-1], -1, H)
        da_cell_gates, da_output = da_by_gate[..., :-1, :], da_by_gate[..., -1, :]
        slope_cell_gates, slope_output = slope_by_gate[..., :-1, :], slope_by_gate[..., -1, :]
        cell_to_hidden = record["cell_to_hidden"]
        forget = record.get("forget")
        W_hh = self.W_hh
        product = step_product(W_hh)
        cell_for_gates = grad_cell[..., None, :]  # ∂L/∂c_t for each cell gate, (…, 1, H)
        # What step t + 1 hands back to step t, written in place each step.
        dh_next, dc_next = np.empty(grad.shape[1:]), np.empty(grad.shape[1:])
        for t, cut_here in zip(reversed(range(len(grad))), cut[::-1].tolist(), strict=True):
            dh = np.add(grad[t], 0.0 if cut_here else dh_next, out=grad_hidden[t])
            dc = np.multiply(dh, cell_to_hidden[t], out=grad_cell[t])
            if not cut_here:
                dc += dc_next
            np.multiply(slope_cell_gates[t], cell_for_gates[t], out=da_cell_gates[t])
            np.multiply(slope_output[t], dh, out=da_output[t])
            if forget is not None:
                np.multiply(dc, forget[t], out=dc_next)
            else:
                dc_next[...] = dc
            product(grad_pre[t], W_hh, out=dh_next)
        grads = partial(shared_weight_grads, grad_pre, record["x"], record["h_prev"])
        return grad_hidden, grad_cell, grads

    def jvp(self, record, v):
        """J_t v for s = (h, c): v (N, K, 2H), h-part first."""
        H = self.H
        gate_slope, cell_to_hidden, forget = self._at(record, slice(None))
        vh, vc = v[..., :H], v[..., H:]
        # each gate's pre-activation, times its partner
        da = gate_slope * np.matmul(vh, transposed(self.W_hh))
        dc = (
            da[..., self.i]
            + da[..., self.g]
            + (da[..., self.f] + forget * vc if self.forget_gate else vc)
        )
        dh = da[..., self.o] + cell_to_hidden * dc
        return np.concatenate([dh, dc], axis=-1)

    def vjp(self, record, u):
        """J_tᵀ u for s = (h, c): u (N, K, 2H), h-part first."""
        H = self.H
        da, _, dc_prev = self._step_back(u[..., :H], u[..., H:], *self._at(record, slice(None)))
        return np.concatenate([np.matmul(da, self.W_hh), dc_prev], axis=-1)
