"""The record of one simulation: every per-step value, forward and back."""

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from engine.jacobian import state_jacobian_norms


@dataclass(frozen=True, eq=False, repr=False)
class Trace:
    """Everything one run of ``simulate`` computed, time first.

    Shapes are given for one model and one sequence; with a batch, every
    per-step field has the batch axis B after time ((T, B, H) for ``hidden``).
    A stacked run (``engine.stack``, M models) puts the model axis right after
    time ((T, M, H), or (T, M, B, H) with a batch); then ``loss``,
    ``grad_norm`` and ``clip_scale`` are (M,) (each model's own), ``grads``
    and ``clipped_grads`` have the leading M, and ``nonfinite_forward`` /
    ``nonfinite_backward`` are (M,) integer arrays with −1 where finite. A field ending in
    ``_reverse`` belongs to the reverse direction of a bidirectional model and
    is None otherwise; the reverse direction's values are stored in time order
    (position t belongs to input t).

    hidden:        (T, H) h_t.
    cell:          (T, H) an LSTM's c_t; None for the other kinds.
    gates:         dict of (T, H) gate activations: gru reset, update, candidate;
                   mgu forget, candidate; lstm input, forget, candidate, output
                   (no forget without the gate); rnn, jordan: empty.
    outputs:       (T, O) y_t, the readout after the loss's link.
    loss:          L (the mean over the batch of each sequence's loss).
    grad_hidden:   (T, H) ∂L/∂h_t as BPTT delivers it: through the readout at t
                   and every later step within the truncation chunk.
    grad_cell:     (T, H) ∂L/∂c_t of an LSTM, through h_t and c_{t+1}; else None.
    grads:         ∂L/∂θ for every entry of ``model.params``, before clipping.
    grad_norm:     √(Σ‖g‖²) over all of ``grads``.
    clip_scale:    min(1, θ/(grad_norm + 1e-6)) when clipping, else 1.0.
    clipped_grads: grads · clip_scale.
                   These four are summed over the steps when first read.
    nonfinite_forward:  the first step whose forward values are not finite, or None.
    nonfinite_backward: the first step the backward sweep reaches (the latest in
                   time) whose grad_hidden or grad_cell is not finite, or None.
    state_jacobian_norm: (T,) ‖∂s_t/∂s_{t−1}‖₂, computed when first read (below).
    """

    hidden: np.ndarray
    hidden_reverse: np.ndarray | None
    cell: np.ndarray | None
    cell_reverse: np.ndarray | None
    gates: dict
    gates_reverse: dict | None
    outputs: np.ndarray
    loss: float | np.ndarray
    grad_hidden: np.ndarray
    grad_hidden_reverse: np.ndarray | None
    grad_cell: np.ndarray | None
    grad_cell_reverse: np.ndarray | None
    nonfinite_forward: int | np.ndarray | None
    nonfinite_backward: int | np.ndarray | None
    # Per direction: (the cell, stacked: model m → its cell alone; the forward
    # record in reading order, arrays (T, [M,] B, ·); the state size S).
    _jacobian_sources: tuple = field(default=(), repr=False)
    _batched: bool = field(default=False, repr=False)
    _stacked: bool = field(default=False, repr=False)
    # What the forward sweep read (simulate.ForwardInputs), for ``simulate(reuse=…)``.
    _forward: object = field(default=None, repr=False)
    # ∂L/∂θ and its clipping, summed when first read (simulate.ParameterGradients).
    _gradients: object = field(default=None, repr=False)

    @property
    def grads(self):
        """∂L/∂θ for every entry of ``model.params``, before clipping."""
        return self._gradients.grads

    @property
    def grad_norm(self):
        """√(Σ‖g‖²) over all of ``grads``."""
        return self._gradients.norm

    @property
    def clip_scale(self):
        """min(1, θ/(grad_norm + 1e-6)) when clipping, else 1.0."""
        return self._gradients.scale

    @property
    def clipped_grads(self):
        """grads · clip_scale."""
        return self._gradients.clipped

    @cached_property
    def state_jacobian_norm(self):
        """(T,) or (T, B): ‖∂s_t/∂s_{t−1}‖₂, s = h, or (h, c) stacked for an LSTM.

        Stacked: (T, M) or (T, M, B), each model's own.

        Entry 0 is taken against the initial state (zero for jordan, where h0 has
        no effect); nan where the forward values are not finite. Costs
        O(T·S²·iterations) on first read, accurate to a relative 1e-10 or so.
        """
        return self._norms(0)

    @cached_property
    def state_jacobian_norm_reverse(self):
        """(T,) or (T, B) (stacked: (T, M) or (T, M, B)): ‖∂s_t/∂s_{t+1}‖₂ of the
        reverse direction; None if there is none."""
        if len(self._jacobian_sources) < 2:
            return None
        return self._norms(1)[::-1].copy()

    def _norms(self, direction):
        cell, record, state_size = self._jacobian_sources[direction]
        if self._stacked:  # cell: model m → its own cell
            models = range(record["hidden"].shape[1])
            per_model = [
                state_jacobian_norms(cell(m), _model_record(record, m), state_size) for m in models
            ]
            norms = np.stack(per_model, axis=1)  # (T, M, B)
        else:
            norms = state_jacobian_norms(cell, record, state_size)  # (T, B)
        return norms if self._batched else norms[..., 0]

    def __repr__(self):
        T = self.hidden.shape[0]
        if self._stacked:
            return f"Trace(T={T}, hidden={self.hidden.shape}, models={len(self.loss)})"
        return (
            f"Trace(T={T}, hidden={self.hidden.shape}, loss={self.loss:.6g}, "
            f"grad_norm={self.grad_norm:.6g}, clip_scale={self.clip_scale:.6g}, "
            f"nonfinite_forward={self.nonfinite_forward}, "
            f"nonfinite_backward={self.nonfinite_backward})"
        )


def _model_record(record, m):
    """Model m's arrays of a stacked forward record: (T, M, B, ·) → (T, B, ·)."""
    return {
        name: value[:, m]
        for name, value in record.items()
        if isinstance(value, np.ndarray) and value.ndim == 4
    }
