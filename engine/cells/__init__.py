"""The recurrent cells, one module each, with one interface.

A cell is built from one direction's parameters (weight_ih, weight_hh, bias_ih,
bias_hh) and works in that direction's reading order, on a batch:

- ``forward(x, h0)``: x (T, B, D), h0 (B, H) → a record: a dict of arrays with
  time first, holding "hidden" (T, B, H), "cell" for an LSTM, one entry per gate
  under the trace's gate name, and whatever the backward sweep reads back.
- ``backward(record, grad, cut)``: BPTT. ``grad`` (T, B, H) is ∂L/∂h_t through
  the readout alone (jordan: ∂L/∂p_t); ``cut[t]`` is True where no gradient
  flows from step t + 1 back into step t (the end of a truncation chunk, and
  the last step). Returns (grad_hidden, grad_cell or None, grads), grads keyed
  by the parameter names without a direction suffix.
- ``jvp(record, v)`` and ``vjp(record, u)``: the state Jacobian J_t = ∂s_t/∂s_{t−1}
  applied to v and Jᵀ_t to u, for every step at once. The record's arrays are
  flattened to (N, 1, ·), N = T·B; v and u are (N, K, S), S the state size.

Stacked models (``engine.stack``): the same cell built from parameters with a
leading M runs all M models at once, every array with the model axis after
time (x (T, M, B, D), h0 (M, B, H), records and gradients (T, M, B, ·), grads
(M, ·)). ``jvp`` and ``vjp`` take one model's cell (``simulate`` builds it
from that model's parameters) and that model's record.
"""

from engine.cells.elman import Elman
from engine.cells.gru import GRU
from engine.cells.jordan import Jordan
from engine.cells.lstm import LSTM
from engine.cells.mgu import MGU

__all__ = ["GRU", "LSTM", "MGU", "Elman", "Jordan", "make_cell"]


def make_cell(model, params, suffix, loss):
    """The cell for one direction of ``model``; ``suffix`` is "" or "_reverse"."""
    own = {name: params[name + suffix] for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    if model.kind == "rnn":
        return Elman(own, model.activation)
    if model.kind == "jordan":
        return Jordan(own, model.activation, params["weight_out"], params["bias_out"], loss)
    if model.kind == "gru":
        return GRU(own, model.activation, model.reset_after)
    if model.kind == "mgu":
        return MGU(own, model.activation)
    return LSTM(own, model.activation, model.forget_gate)
