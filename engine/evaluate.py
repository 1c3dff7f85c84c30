"""The forward pass alone: a validation batch's loss without a backward sweep."""

from typing import NamedTuple

import numpy as np

from engine.cells import make_cell
from engine.functions import LOSSES, link, step_losses
from engine.model import _check_choice, checked_params
from engine.simulate import SCORED, _checked_h0, _checked_inputs, _checked_targets


class Evaluation(NamedTuple):
    """loss: L as ``simulate`` gives it; outputs: y_t, (T, O) or (T, B, O)."""

    loss: float
    outputs: np.ndarray


def evaluate(model, inputs, targets, *, loss="mse", scored="all", h0=None):
    """L and y_t of ``model`` on ``inputs`` without BPTT: ``(loss, outputs)``.

    Arguments as ``simulate``'s: inputs (T, D) or (T, B, D); targets (T, O) or
    (T, B, O), with scored="last" also (O,) or (B, O); h0 (H,), (B, H), and for
    a bidirectional model (2, H) or (2, B, H). ``loss`` and ``outputs`` equal
    ``simulate``'s ``trace.loss`` and ``trace.outputs`` to the last bit; an
    overflow gives inf or nan, never a warning.
    """
    _check_choice("loss", loss, LOSSES)
    _check_choice("scored", scored, SCORED)
    params = checked_params(model)
    x, batched = _checked_inputs(inputs, model.input_size)
    T, B = x.shape[:2]
    target = _checked_targets(targets, scored, T, B, model.output_size, batched)
    initial = _checked_h0(h0, model, B, batched)
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
            readout = features @ params["weight_out"].T + params["bias_out"]
            outputs = link(loss, readout)
        if scored == "all":
            L = step_losses(loss, readout, outputs, target).sum(axis=0).mean()
        else:
            L = step_losses(loss, readout[-1], outputs[-1], target[-1]).mean()
    return Evaluation(float(L), outputs if batched else outputs[:, 0])
