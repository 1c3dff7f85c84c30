"""Forward through time, then backpropagation through time (BPTT).

forward:  s_t = cell(x_t, s_{t−1}) in each direction's reading order
readout:  p_t = W_out h_t + b_out (bidirectional: on [h_t; h_t^reverse]),  y_t = link(p_t)
loss:     L = Σ_t L_t (scored="all") or L = L_{T−1} (scored="last"),
          averaged over a batch; ∂L_t/∂p_t = y_t − target_t for every loss
backward: each cell carries ∂L/∂h_t from step t + 1 back to step t, except
          across the boundary of a truncation chunk, and sums the shared
          weights' gradients over the steps (notes 002: "summed over time").
"""

import numbers
from dataclasses import dataclass
from functools import cached_property, partial

import numpy as np

from engine.cells import make_cell
from engine.cells.common import summed, summed_outer
from engine.functions import LOSSES, link, step_losses
from engine.model import _check_choice, checked_params
from engine.trace import Trace

SCORED = ("all", "last")


def simulate(
    model,
    inputs,
    targets,
    *,
    loss="mse",
    scored="all",
    truncate=None,
    clip=None,
    h0=None,
    reuse=None,
):
    """Run ``model`` forward over ``inputs`` and back through time; return a ``Trace``.

    model:    from ``engine.build``; its ``params`` are checked here.
    inputs:   (T, D), or a batch (T, B, D).
    targets:  (T, O), or (T, B, O); with scored="last" also (O,), or (B, O).
    loss:     "mse" (y = p), "bce" (y = σ(p)), "cross_entropy" (y = softmax(p)).
    scored:   "all": L = Σ_t L_t; "last": L = L_{T−1}.
    truncate: k ≥ 1 cuts the sequence into chunks of k steps from the first
              step each direction reads; no gradient crosses a chunk boundary.
              None: full BPTT.
    clip:     θ > 0: global gradient-norm clipping into ``clipped_grads``.
    h0:       (H,) or (B, H); bidirectional also (2, H) or (2, B, H),
              forward direction first. None: zeros.
    reuse:    a Trace from an earlier ``simulate``, or None. If it came from a
              model of the same kind, sizes, activation and parameter values,
              with the same h0 and batch size (and for jordan the same loss),
              each direction copies the forward values of the steps at the start
              of its reading order whose inputs equal that run's, and computes
              only the steps after them. A new T, truncation, clipping or set-up
              then costs little more than the backward sweep. The trace is the
              same, bit for bit, as without ``reuse``; a Trace that does not fit
              is not used.

    Raises ValueError naming the argument for any bad argument. Overflow is not
    an error: it is reported in ``nonfinite_forward`` / ``nonfinite_backward``.
    """
    _check_choice("loss", loss, LOSSES)
    _check_choice("scored", scored, SCORED)
    truncate = _checked_truncate(truncate)
    clip = _checked_clip(clip)
    params = checked_params(model)
    x, batched = _checked_inputs(inputs, model.input_size)
    T, B = x.shape[:2]
    target = _checked_targets(targets, scored, T, B, model.output_size, batched)
    initial = _checked_h0(h0, model, B, batched)
    if reuse is not None and not isinstance(reuse, Trace):
        raise ValueError(
            f"reuse must be None or a Trace from engine.simulate, got {type(reuse).__name__}"
        )

    with np.errstate(all="ignore"):
        return _run(model, params, x, target, initial, loss, scored, truncate, clip, batched, reuse)


def _run(model, params, x, target, initial, loss, scored, truncate, clip, batched, reuse):
    T, B = x.shape[:2]
    H = model.hidden_size
    reverse = model.bidirectional
    cells = [make_cell(model, params, suffix, loss) for suffix in model.directions]
    # Each direction runs in its own reading order: the reverse one on x[::-1].
    reading = [x[::-1] if k else x for k in range(len(cells))]
    forward = ForwardInputs.of(model, params, loss, reading, initial)
    prefixes = forward.prefixes(reuse)
    records = [cell.forward(reading[k], initial[k], prefixes[k]) for k, cell in enumerate(cells)]

    def in_time_order(k, name):
        value = records[k].get(name)
        if value is None or not k:
            return value
        return np.ascontiguousarray(value[::-1])

    hidden = [in_time_order(k, "hidden") for k in range(len(cells))]
    features = np.concatenate(hidden, axis=-1) if reverse else hidden[0]  # (T, B, F)
    if model.kind == "jordan":
        readout, outputs = records[0]["readout"], records[0]["outputs"]
    else:
        readout = features @ params["weight_out"].T + params["bias_out"]  # p_t (T, B, O)
        outputs = link(loss, readout)  # y_t

    # ∂L/∂p_t = (y_t − target_t) / B on the scored steps: L is the batch mean.
    grad_readout = np.zeros_like(readout)
    if scored == "all":
        L = step_losses(loss, readout, outputs, target).sum(axis=0).mean()
        grad_readout[:] = (outputs - target) / B
    else:
        L = step_losses(loss, readout[-1], outputs[-1], target[-1]).mean()
        grad_readout[-1] = (outputs[-1] - target[-1]) / B

    steps = np.arange(T)
    cut = steps == T - 1  # cut[t]: no gradient reaches step t from step t + 1
    if truncate is not None:
        cut |= (steps + 1) % truncate == 0

    parts = []  # each gives some of ∂L/∂θ when called (ParameterGradients)
    grad_hidden, grad_cell = [], []
    if model.kind == "jordan":  # its readout lies inside the recurrence
        gh, gc, own = cells[0].backward(records[0], grad_readout, cut)
        grad_hidden.append(gh)
        grad_cell.append(gc)
        parts.append(own)
    else:
        parts.append(partial(_readout_grads, grad_readout, features))
        grad_features = grad_readout @ params["weight_out"]  # ∂L/∂h_t via the readout
        for k, (cell, suffix) in enumerate(zip(cells, model.directions, strict=True)):
            own_grad = grad_features[..., k * H : (k + 1) * H]
            gh, gc, own = cell.backward(records[k], own_grad[::-1] if k else own_grad, cut)
            if k:
                gh = np.ascontiguousarray(gh[::-1])
                gc = None if gc is None else np.ascontiguousarray(gc[::-1])
            grad_hidden.append(gh)
            grad_cell.append(gc)
            parts.append(partial(_with_suffix, own, suffix))

    cell_state = [in_time_order(k, "cell") for k in range(len(cells))]
    gates = [
        {name: in_time_order(k, name) for name in cell.gate_names} for k, cell in enumerate(cells)
    ]
    forward_values = [*hidden, outputs, *(c for c in cell_state if c is not None)]
    forward_values += [g for direction in gates for g in direction.values()]
    backward_values = [g for g in grad_hidden + grad_cell if g is not None]

    def per_step(value):
        return value if value is None or batched else value[:, 0]

    def second(values):
        return values[1] if reverse else None

    state_sizes = 2 * H if model.kind == "lstm" else H
    return Trace(
        hidden=per_step(hidden[0]),
        hidden_reverse=per_step(second(hidden)),
        cell=per_step(cell_state[0]),
        cell_reverse=per_step(second(cell_state)),
        gates={name: per_step(g) for name, g in gates[0].items()},
        gates_reverse=({name: per_step(g) for name, g in gates[1].items()} if reverse else None),
        outputs=per_step(outputs),
        loss=float(L),
        grad_hidden=per_step(grad_hidden[0]),
        grad_hidden_reverse=per_step(second(grad_hidden)),
        grad_cell=per_step(grad_cell[0]),
        grad_cell_reverse=per_step(second(grad_cell)),
        _gradients=ParameterGradients(parts, tuple(params), clip),
        nonfinite_forward=_first_nonfinite_step(forward_values, T, latest=False),
        nonfinite_backward=_first_nonfinite_step(backward_values, T, latest=True),
        _jacobian_sources=tuple(
            (cell, record, state_sizes) for cell, record in zip(cells, records, strict=True)
        ),
        _batched=batched,
        _forward=forward,
    )


@dataclass(frozen=True, eq=False)
class ForwardInputs:
    """What a forward sweep's values depend on, copied so that later changes
    to the caller's arrays cannot make a trace look reusable when it is not.

    signature: the model's configuration, the batch size and (jordan) the loss.
    params:    every parameter's value.
    reading:   per direction, the inputs (T, B, D) in its reading order.
    initial:   per direction, the initial hidden state (B, H).
    """

    signature: tuple
    params: dict
    reading: list
    initial: list

    @classmethod
    def of(cls, model, params, loss, reading, initial):
        signature = (
            model.kind,
            model.input_size,
            model.hidden_size,
            model.output_size,
            model.activation,
            model.bidirectional,
            model.forget_gate,
            model.reset_after,
            loss if model.kind == "jordan" else None,  # its loop reads y = link(p)
            reading[0].shape[1],
        )
        return cls(
            signature,
            {name: value.copy() for name, value in params.items()},
            [np.array(x) for x in reading],
            [np.array(h) for h in initial],
        )

    def prefixes(self, reuse):
        """Per direction, (the earlier forward record, n): its first n steps are
        this sweep's; or None when ``reuse`` has nothing to give."""
        none = [None] * len(self.reading)
        if reuse is None:
            return none
        earlier = reuse._forward
        if earlier is None or earlier.signature != self.signature:
            return none
        if any(not np.array_equal(earlier.params[k], v) for k, v in self.params.items()):
            return none
        prefixes = []
        for k, (x, old_x) in enumerate(zip(self.reading, earlier.reading, strict=True)):
            if not np.array_equal(self.initial[k], earlier.initial[k]):
                prefixes.append(None)
                continue
            m = min(len(x), len(old_x))
            same = (x[:m] == old_x[:m]).reshape(m, -1).all(axis=1)
            n = m if same.all() else int(np.argmin(same))
            prefixes.append((reuse._jacobian_sources[k][1], n) if n else None)
        return prefixes


class ParameterGradients:
    """∂L/∂θ, its global norm and its clipping, each computed when first read.

    Summing a shared weight's gradient over the steps costs a (G·H × T)·(T × H)
    product per weight: at T = 1000, H = 128 some 7 ms of a T press with three
    cells, which a chart of ‖∂L/∂h_t‖ need not wait for. ``parts``: functions
    each giving some of the gradients by name; ``names``: every parameter's
    name, in model order; ``clip``: θ or None.
    """

    def __init__(self, parts, names, clip):
        self._parts = parts
        self._names = names
        self._clip = clip

    @cached_property
    def grads(self):
        found = {}
        with np.errstate(all="ignore"):
            for part in self._parts:
                found.update(part())
        return {name: found[name] for name in self._names}

    @cached_property
    def norm(self):
        with np.errstate(all="ignore"):
            return _global_norm(self.grads.values())

    @cached_property
    def scale(self):
        if self._clip is None:
            return 1.0
        with np.errstate(all="ignore"):
            return float(np.minimum(1.0, self._clip / (self.norm + 1e-6)))

    @cached_property
    def clipped(self):
        with np.errstate(all="ignore"):
            return {name: g * self.scale for name, g in self.grads.items()}


def _readout_grads(grad_readout, features):
    return {"weight_out": summed_outer(grad_readout, features), "bias_out": summed(grad_readout)}


def _with_suffix(part, suffix):
    return {name + suffix: value for name, value in part().items()}


def _global_norm(arrays):
    """√(Σ‖g‖²), scaled by the largest entry first so that squares cannot overflow."""
    flat = np.concatenate([np.ravel(a) for a in arrays])
    largest = np.max(np.abs(flat)) if flat.size else 0.0
    if not np.isfinite(largest) or largest == 0.0:
        return float(np.sqrt(np.sum(flat * flat)))
    return float(largest * np.sqrt(np.sum((flat / largest) ** 2)))


def _first_nonfinite_step(arrays, T, latest):
    """The earliest (or latest) step t at which any of the (T, …) arrays is not finite."""
    bad = np.zeros(T, dtype=bool)
    for value in arrays:
        bad |= ~np.isfinite(value.reshape(T, -1)).all(axis=1)
    if not bad.any():
        return None
    return int(T - 1 - np.argmax(bad[::-1])) if latest else int(np.argmax(bad))


# --- checking the arguments -------------------------------------------------------


def _as_array(name, value):
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be an array of numbers, got {error}") from None
    return array


def _check_finite(name, array):
    if not np.all(np.isfinite(array)):
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise ValueError(f"{name} must be finite, got {array[where]} at index {where}")


def _checked_inputs(inputs, D):
    x = _as_array("inputs", inputs)
    if x.ndim not in (2, 3) or x.shape[-1] != D or 0 in x.shape:
        raise ValueError(
            f"inputs must have shape (T, D) or (T, B, D) with T, B ≥ 1 and D = {D} "
            f"(the model's input_size), got shape {x.shape}"
        )
    _check_finite("inputs", x)
    batched = x.ndim == 3
    return (x if batched else x[:, None, :]), batched


def _checked_targets(targets, scored, T, B, O, batched):
    """targets as (T, B, O); with scored="last" only the last row is read."""
    y = _as_array("targets", targets)
    full = (T, B, O) if batched else (T, O)
    last = (B, O) if batched else (O,)
    if y.shape == full:
        pass
    elif scored == "last" and y.shape == last:
        y = np.broadcast_to(y, full)
    else:
        expected = f"{full} or, with scored='last', {last}" if scored == "last" else f"{full}"
        raise ValueError(f"targets must have shape {expected}, got shape {y.shape}")
    _check_finite("targets", y)
    return y if batched else y[:, None, :]


def _checked_h0(h0, model, B, batched):
    """h0 for each direction, as a list of (B, H) arrays."""
    H = model.hidden_size
    count = len(model.directions)
    if h0 is None:
        return [np.zeros((B, H))] * count
    h = _as_array("h0", h0)
    per_sequence = [(B, H)] if batched else []
    shared = [(H,), *per_sequence]  # one state for every direction
    own = [(2, B, H) if batched else (2, H)] if count == 2 else []  # forward, reverse
    if h.shape not in shared + own:
        allowed = " or ".join(str(s) for s in shared + own)
        raise ValueError(f"h0 must have shape {allowed}, got shape {h.shape}")
    _check_finite("h0", h)
    if h.shape in own:
        return [np.broadcast_to(h[k], (B, H)) for k in range(2)]
    return [np.broadcast_to(h, (B, H))] * count


def _checked_truncate(truncate):
    if truncate is None:
        return None
    if isinstance(truncate, bool) or not isinstance(truncate, numbers.Integral) or truncate < 1:
        raise ValueError(f"truncate must be None or a whole number of steps ≥ 1, got {truncate!r}")
    return int(truncate)


def _checked_clip(clip):
    if clip is None:
        return None
    if isinstance(clip, bool) or not isinstance(clip, numbers.Real) or not clip > 0:
        raise ValueError(f"clip must be None or a threshold θ > 0, got {clip!r}")
    return float(clip)
