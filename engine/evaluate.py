"""The forward pass alone: a validation batch's loss without a backward sweep."""

from typing import NamedTuple

import numpy as np

from engine.cells import make_cell
from engine.cells.common import along_batch, rows_product, transposed
from engine.functions import LOSSES, link, step_losses
from engine.model import _check_choice, checked_params
from engine.simulate import SCORED, _checked_h0, _checked_inputs, _checked_targets
from engine.stack import StackedModel


class Evaluation(NamedTuple):
    """loss: L as ``simulate`` gives it, (M,) when stacked; outputs: y_t,
    (T, O) or (T, B, O), stacked (T, M, O) or (T, M, B, O)."""

    loss: float | np.ndarray
    outputs: np.ndarray


def evaluate(model, inputs, targets, *, loss="mse", scored="all", h0=None):
    """L and y_t of ``model`` on ``inputs`` without BPTT: ``(loss, outputs)``.

    Arguments as ``simulate``'s: inputs (T, D) or (T, B, D); targets (T, O) or
    (T, B, O), with scored="last" also (O,) or (B, O); h0 (H,), (B, H), and for
    a bidirectional model (2, H) or (2, B, H); for M stacked models
    (``engine.stack``) the shapes ``simulate`` takes then. ``loss`` and ``outputs`` equal
    ``simulate``'s ``trace.loss`` and ``trace.outputs`` to the last bit; an
    overflow gives inf or nan, never a warning.
    """
    _check_choice("loss", loss, LOSSES)
    _check_choice("scored", scored, SCORED)
    M = model.size if isinstance(model, StackedModel) else None
    params = checked_params(model)
    x, batched = _checked_inputs(inputs, model.input_size, M)  # (T, [M,] B, D)
    T, B = x.shape[0], x.shape[-2]
    target = _checked_targets(targets, scored, (T, M, B, model.output_size), batched)
    initial = _checked_h0(h0, model, M, B, batched)
    with np.errstate(all="ignore"):
        cells = [make_cell(model, params, suffix, loss) for suffix in model.directions]
        hidden = []
        for k, cell in enumerate(cells):
            record = cell.forward(x[::-1] if k else x, initial[k])
            hidden.append(record["hidden"][::-1] if k else record["hidden"])
        if model.kind == "jordan":
            readout, outputs = record["readout"], record["outputs"]
        else:
            features = np.concatenate(hidden, axis=-1) if k else hidden[0]
            readout = rows_product(features, transposed(params["weight_out"]))
            readout += along_batch(params["bias_out"])
            outputs = link(loss, readout)
        if scored == "all":
            L = step_losses(loss, readout, outputs, target).sum(axis=0).mean(axis=-1)
        else:
            L = step_losses(loss, readout[-1], outputs[-1], target[-1]).mean(axis=-1)
    return Evaluation(float(L) if M is None else L, outputs if batched else outputs[..., 0, :])
