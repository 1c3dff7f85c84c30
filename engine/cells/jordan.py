"""The Jordan network: the recurrence runs through the previous *output*.

    a_t = W_ih x_t + b_ih + W_hh y_{t−1} + b_hh,   y_{−1} = 0
    h_t = act(a_t)
    p_t = W_out h_t + b_out,   y_t = link(p_t)

W_hh is (H, O). h0 has no effect. The readout sits inside the loop, so BPTT
carries ∂L/∂y_t from step t + 1 back through the link into p_t:

    ∂L/∂p_t = (y_t − target_t) + J_linkᵀ W_hhᵀ ∂L/∂a_{t+1}   (the second term within a chunk)
    ∂L/∂h_t = W_outᵀ ∂L/∂p_t
    ∂L/∂a_t = ∂L/∂h_t ⊙ act'(a_t)

and the state Jacobian (s = h) is ∂h_t/∂h_{t−1} = diag(act'(a_t)) W_hh J_link W_out,
zero at t = 0.
"""

import numpy as np

from engine.cells.common import (
    along_batch,
    copied_steps,
    input_drives,
    previous,
    shared_weight_grads,
    summed,
    summed_outer,
    transposed,
)
from engine.functions import activation, link, link_jvp, link_vjp


class Jordan:
    gate_names = ()

    def __init__(self, params, activation_name, W_out, b_out, loss):
        self.W_ih = params["weight_ih"]  # ([M,] H, D)
        self.W_hh = params["weight_hh"]  # ([M,] H, O)
        self.b = along_batch(params["bias_ih"] + params["bias_hh"])  # ([M,] 1, H)
        self.W_out = W_out  # ([M,] O, H)
        self.b_out = along_batch(b_out)  # ([M,] 1, O)
        self.loss = loss
        self.act, self.act_slope = activation(activation_name)

    def forward(self, x, h0, prefix=None):
        """x (T, [M,] B, D); h0 is ignored. Record: hidden (T, [M,] B, H), readout and
        outputs (T, [M,] B, O).

        prefix: None, or (an earlier record, n) whose first n steps are this
        sweep's (``simulate``'s ``reuse``); they are copied, not computed."""
        steps = x.shape[:-1]  # (T, [M,] B)
        O = self.W_out.shape[-2]
        input_drive = input_drives(x, self.W_ih, self.b)  # (T, [M,] B, H)
        hidden = np.empty_like(input_drive)
        readout = np.empty((*steps, O))
        outputs = np.empty((*steps, O))
        W_hh_T, W_out_T = transposed(self.W_hh), transposed(self.W_out)
        start = copied_steps(prefix, hidden=hidden, readout=readout, outputs=outputs)
        no_output = np.zeros((*steps[1:], O))  # y_{−1}
        y = outputs[start - 1] if start else no_output
        for t in range(start, len(x)):
            h = self.act(input_drive[t] + np.matmul(y, W_hh_T))
            p = np.matmul(h, W_out_T) + self.b_out
            y = link(self.loss, p)
            hidden[t], readout[t], outputs[t] = h, p, y
        has_previous = np.ones((*steps, 1))
        has_previous[0] = 0.0
        return {
            "x": x,
            "hidden": hidden,
            "readout": readout,
            "outputs": outputs,
            "y_prev": previous(no_output, outputs),
            "slope": self.act_slope(hidden),
            "has_previous": has_previous,
        }

    def backward(self, record, grad, cut):
        """BPTT; grad (T, [M,] B, O) is ∂L/∂p_t of the loss alone (y_t − target_t, scored steps).

        The grads include weight_out and bias_out, which the recurrence also uses.
        """
        slope, outputs = record["slope"], record["outputs"]
        grad_hidden = np.empty((*grad.shape[:-1], self.W_hh.shape[-2]))
        grad_pre = np.empty_like(grad_hidden)  # ∂L/∂a_t
        grad_readout = np.empty_like(grad)  # ∂L/∂p_t, both paths
        dy_next = None  # ∂L/∂y_t through step t + 1
        for t in reversed(range(len(grad))):
            dp = grad[t] if cut[t] else grad[t] + link_vjp(self.loss, outputs[t], dy_next)
            grad_readout[t] = dp
            dh = np.matmul(dp, self.W_out)  # back through the readout
            grad_hidden[t] = dh
            da = dh * slope[t]  # back through act
            grad_pre[t] = da
            dy_next = np.matmul(da, self.W_hh)  # back through W_hh y_{t−1}

        def grads():
            own = shared_weight_grads(grad_pre, record["x"], record["y_prev"])
            own["weight_out"] = summed_outer(grad_readout, record["hidden"])
            own["bias_out"] = summed(grad_readout)
            return own

        return grad_hidden, None, grads

    def jvp(self, record, v):
        """J_t v = act'(a_t) ⊙ W_hh J_link(y_{t−1}) W_out v; zero at t = 0."""
        dy_prev = link_jvp(self.loss, record["y_prev"], np.matmul(v, transposed(self.W_out)))
        return record["has_previous"] * record["slope"] * np.matmul(dy_prev, transposed(self.W_hh))

    def vjp(self, record, u):
        """J_tᵀ u = W_outᵀ J_linkᵀ W_hhᵀ (act'(a_t) ⊙ u); zero at t = 0."""
        dy_prev = np.matmul(u * record["slope"], self.W_hh)
        return record["has_previous"] * np.matmul(
            link_vjp(self.loss, record["y_prev"], dy_prev), self.W_out
        )
