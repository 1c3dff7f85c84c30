"""Forward through time, then backpropagation through time (BPTT).

forward:  s_t = cell(x_t, s_{t−1}) in each direction's reading order
readout:  p_t = W_out h_t + b_out (bidirectional: on [h_t; h_t^reverse]),  y_t = link(p_t)
loss:     L = Σ_t L_t (scored="all") or L = L_{T−1} (scored="last"),
          averaged over a batch; ∂L_t/∂p_t = y_t − target_t for every loss
backward: each cell carries ∂L/∂h_t from step t + 1 back to step t, except
          across the boundary of a truncation chunk, and sums the shared
          weights' gradients over the steps (notes 002: "summed over time").

Stacked models (``engine.stack``) run through the same code with the model
axis after time: inputs (T, M, B, D), states (M, B, H) per step, weights
(M, ·, ·), each model's loss, gradient norm and clipping its own. Inside, one
sequence is a batch of one (B = 1), dropped again in the trace.
"""

import numbers
from dataclasses import dataclass
from functools import cached_property, partial

import numpy as np

from engine.cells import make_cell
from engine.cells.common import along_batch, rows_product, summed, summed_outer, transposed
from engine.functions import LOSSES, link, step_losses
from engine.model import _check_choice, checked_params
from engine.stack import StackedModel
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

    model:    from ``engine.build``, or M models from ``engine.stack``; its
              ``params`` are checked here.
    inputs:   (T, D), or a batch (T, B, D). Stacked: (T, M, D) or (T, M, B, D).
    targets:  (T, O), or (T, B, O); with scored="last" also (O,), or (B, O).
              Stacked: (T, M, O) or (T, M, B, O); with scored="last" also
              (M, O) or (M, B, O).
    loss:     "mse" (y = p), "bce" (y = σ(p)), "cross_entropy" (y = softmax(p)).
    scored:   "all": L = Σ_t L_t; "last": L = L_{T−1}.
    truncate: k ≥ 1 cuts the sequence into chunks of k steps from the first
              step each direction reads; no gradient crosses a chunk boundary.
              None: full BPTT.
    clip:     θ > 0: global gradient-norm clipping into ``clipped_grads``.
    h0:       (H,) or (B, H); bidirectional also (2, H) or (2, B, H),
              forward direction first. Stacked: (H,), (M, H) or (M, B, H);
              bidirectional also (2, M, H) or (2, M, B, H) (a leading 2 is
              read as the directions). None: zeros.
    reuse:    a Trace from an earlier ``simulate``, or None. If it came from a
              model of the same kind, sizes, activation and parameter values,
              with the same h0 and batch size (and for jordan the same loss),
              each direction copies the forward values of the steps at the start
              of its reading order whose inputs equal that run's, and computes
              only the steps after them. A new T, truncation, clipping or set-up
              then costs little more than the backward sweep. The trace is the
              same, bit for bit, as without ``reuse``; a Trace that does not fit
              is not used. Stacked runs reuse a stacked trace of the same M
              (the steps whose inputs all M models share).

    A stacked run (model from ``engine.stack``) gives every per-step field the
    model axis after time (``hidden`` (T, M, H) or (T, M, B, H),
    ``state_jacobian_norm`` (T, M) or (T, M, B)); ``loss``, ``grad_norm`` and
    ``clip_scale`` are (M,): each model's own loss (its batch mean), gradient
    norm and clipping (θ against its own norm); ``grads`` and
    ``clipped_grads`` have the leading M; ``nonfinite_forward`` and
    ``nonfinite_backward`` are (M,) integer arrays, −1 where finite. Model i's
    values are those of ``simulate(models[i], inputs[:, i], targets[:, i], …)``,
    bit for bit: each model's arithmetic is the same, in the same order.

    Raises ValueError naming the argument for any bad argument. Overflow is not
    an error: it is reported in ``nonfinite_forward`` / ``nonfinite_backward``.
    """
    checked = _checked_arguments(model, inputs, targets, loss, scored, truncate, clip, h0)
    if reuse is not None and not isinstance(reuse, Trace):
        raise ValueError(
            f"reuse must be None or a Trace from engine.simulate, got {type(reuse).__name__}"
        )
    with np.errstate(all="ignore"):
        return _run(model, *checked, reuse)


def _checked_arguments(model, inputs, targets, loss, scored, truncate, clip, h0):
    """simulate's arguments checked: (params, x, target, initial, loss, scored,
    truncate, clip, form) as ``_run`` takes them."""
    _check_choice("loss", loss, LOSSES)
    _check_choice("scored", scored, SCORED)
    truncate = _checked_truncate(truncate)
    clip = _checked_clip(clip)
    stacked = isinstance(model, StackedModel)
    M = model.size if stacked else None
    params = checked_params(model)
    x, batched = _checked_inputs(inputs, model.input_size, M)  # (T, [M,] B, D)
    T, B = x.shape[0], x.shape[-2]
    target = _checked_targets(targets, scored, (T, M, B, model.output_size), batched)
    initial = _checked_h0(h0, model, M, B, batched)
    return params, x, target, initial, loss, scored, truncate, clip, (stacked, batched)


def _run(model, params, x, target, initial, loss, scored, truncate, clip, form, reuse, lean=False):
    """x (T, [M,] B, D), target (T, [M,] B, O), initial per direction ([M,] B, H),
    params with the leading M when stacked. form: (stacked, batched). lean:
    skip the non-finite scans and what ``reuse`` needs (``train.training_trace``)."""
    stacked, batched = form
    T, B = x.shape[0], x.shape[-2]
    H = model.hidden_size
    reverse = model.bidirectional
    cells = [make_cell(model, params, suffix, loss) for suffix in model.directions]
    # Each direction runs in its own reading order: the reverse one on x[::-1].
    reading = [x[::-1] if k else x for k in range(len(cells))]
    forward = None if lean else ForwardInputs.of(model, params, loss, reading, initial)
    prefixes = [None] * len(cells) if lean else forward.prefixes(reuse)
    records = [cell.forward(reading[k], initial[k], prefixes[k]) for k, cell in enumerate(cells)]

    def in_time_order(k, name):
        value = records[k].get(name)
        if value is None or not k:
            return value
        return np.ascontiguousarray(value[::-1])

    hidden = [in_time_order(k, "hidden") for k in range(len(cells))]
    features = np.concatenate(hidden, axis=-1) if reverse else hidden[0]  # (T, M, B, F)
    if model.kind == "jordan":
        readout, outputs = records[0]["readout"], records[0]["outputs"]
    else:
        # p_t (T, M, B, O)
        readout = rows_product(features, transposed(params["weight_out"]))
        readout += along_batch(params["bias_out"])
        outputs = link(loss, readout)  # y_t

    # ∂L/∂p_t = (y_t − target_t) / B on the scored steps: L is each model's batch mean.
    grad_readout = np.zeros_like(readout)
    if scored == "all":
        # Σ_t L_t of each sequence, summed as one model's are: ([M,] B), then the batch mean
        L = summed(step_losses(loss, readout, outputs, target)[..., None, :]).mean(axis=-1)
        grad_readout[:] = (outputs - target) / B
    else:
        L = step_losses(loss, readout[-1], outputs[-1], target[-1]).mean(axis=-1)
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
        grad_features = rows_product(grad_readout, params["weight_out"])  # ∂L/∂h_t via the readout
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

    def per_step(value):  # (T, [M,] B, ·) → without B for one sequence
        return value if value is None or batched else value[..., 0, :]

    def per_model(step):  # (M,), −1 where finite; one model: None or the step
        if stacked:
            return step
        return None if step[0] < 0 else int(step[0])

    def second(values):
        return values[1] if reverse else None

    def first_bad(values, latest):
        return per_model(_first_nonfinite_steps(values, latest=latest))

    state_sizes = 2 * H if model.kind == "lstm" else H
    return Trace(
        hidden=per_step(hidden[0]),
        hidden_reverse=per_step(second(hidden)),
        cell=per_step(cell_state[0]),
        cell_reverse=per_step(second(cell_state)),
        gates={name: per_step(g) for name, g in gates[0].items()},
        gates_reverse=({name: per_step(g) for name, g in gates[1].items()} if reverse else None),
        outputs=per_step(outputs),
        loss=L if stacked else float(L),
        grad_hidden=per_step(grad_hidden[0]),
        grad_hidden_reverse=per_step(second(grad_hidden)),
        grad_cell=per_step(grad_cell[0]),
        grad_cell_reverse=per_step(second(grad_cell)),
        _gradients=ParameterGradients(parts, tuple(params), clip, stacked),
        nonfinite_forward=None if lean else first_bad(forward_values, latest=False),
        nonfinite_backward=None if lean else first_bad(backward_values, latest=True),
        _jacobian_sources=tuple(
            (
                partial(_model_cell, model, params, suffix, loss) if stacked else cell,
                record,
                state_sizes,
            )
            for suffix, cell, record in zip(model.directions, cells, records, strict=True)
        ),
        _batched=batched,
        _stacked=stacked,
        _forward=forward,
    )


@dataclass(frozen=True, eq=False)
class ForwardInputs:
    """What a forward sweep's values depend on, copied so that later changes
    to the caller's arrays cannot make a trace look reusable when it is not.

    signature: the model's configuration, the number of models (stacked) and
               of sequences, and (jordan) the loss.
    params:    every parameter's value.
    reading:   per direction, the inputs (T, [M,] B, D) in its reading order.
    initial:   per direction, the initial hidden state ([M,] B, H).
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
            reading[0].shape[1:-1],  # ([M,] B)
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
    each giving some of the gradients by name (with the leading M when
    stacked); ``names``: every parameter's name, in model order; ``clip``: θ
    or None; ``stacked``: whether the gradients have the model axis.
    """

    def __init__(self, parts, names, clip, stacked):
        self._parts = parts
        self._names = names
        self._clip = clip
        self._stacked = stacked

    @cached_property
    def grads(self):
        found = {}
        with np.errstate(all="ignore"):
            for part in self._parts:
                found.update(part())
        return {name: found[name] for name in self._names}

    @cached_property
    def norms(self):
        """(M,): each model's √(Σ‖g‖²) (M = 1 for one model)."""
        grads = self.grads.values()
        with np.errstate(all="ignore"):
            return _global_norms(grads if self._stacked else [g[None] for g in grads])

    @cached_property
    def scales(self):
        """(M,): each model's min(1, θ/(‖g‖ + 1e-6)), ones without clipping."""
        if self._clip is None:
            return np.ones(len(self.norms))
        with np.errstate(all="ignore"):
            return np.minimum(1.0, self._clip / (self.norms + 1e-6))

    @property
    def norm(self):
        return self.norms if self._stacked else float(self.norms[0])

    @property
    def scale(self):
        return self.scales if self._stacked else float(self.scales[0])

    @cached_property
    def clipped(self):
        with np.errstate(all="ignore"):
            if not self._stacked:
                return {name: g * self.scale for name, g in self.grads.items()}
            return {
                name: g * self.scales.reshape(-1, *(1,) * (g.ndim - 1))
                for name, g in self.grads.items()
            }


def _model_cell(model, params, suffix, loss, m):
    """Model m's cell on its own, unstacked parameters, for the state Jacobian."""
    return make_cell(model, {name: value[m] for name, value in params.items()}, suffix, loss)


def _readout_grads(grad_readout, features):
    return {"weight_out": summed_outer(grad_readout, features), "bias_out": summed(grad_readout)}


def _with_suffix(part, suffix):
    return {name + suffix: value for name, value in part().items()}


def _global_norms(arrays):
    """Each model's √(Σ‖g‖²), scaled by its largest entry first so that squares
    cannot overflow. arrays: (M, ·) each → (M,)."""
    arrays = list(arrays)
    M = len(arrays[0])
    flat = np.concatenate([a.reshape(M, -1) for a in arrays], axis=1)
    largest = np.max(np.abs(flat), axis=1)
    usable = np.isfinite(largest) & (largest != 0.0)
    divisor = np.where(usable, largest, 1.0)[:, None]
    scaled = largest * np.sqrt(np.sum((flat / divisor) ** 2, axis=1))
    plain = np.sqrt(np.sum(flat * flat, axis=1))
    return np.where(usable, scaled, plain)


def _first_nonfinite_steps(arrays, latest):
    """Per model, the earliest (or latest) step t at which any of the
    (T, M, …) arrays is not finite; −1 where there is none. Returns (M,) ints.
    One model's (T, …) arrays count as M = 1."""
    T = len(arrays[0])
    M = arrays[0].shape[1] if arrays[0].ndim == 4 else 1
    bad = np.zeros((T, M), dtype=bool)
    for value in arrays:
        if np.isfinite(value).all():  # the usual case: one pass, no per-step sums
            continue
        bad |= ~np.isfinite(value.reshape(T, M, -1)).all(axis=2)
    step = T - 1 - np.argmax(bad[::-1], axis=0) if latest else np.argmax(bad, axis=0)
    return np.where(bad.any(axis=0), step, -1)


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


def _checked_inputs(inputs, D, M):
    """inputs as (T, B, D), stacked (T, M, B, D) (B = 1 for one sequence), and
    whether they came batched. M: the number of stacked models, None for one."""
    x = _as_array("inputs", inputs)
    if M is None:
        if x.ndim not in (2, 3) or x.shape[-1] != D or 0 in x.shape:
            raise ValueError(
                f"inputs must have shape (T, D) or (T, B, D) with T, B ≥ 1 and D = {D} "
                f"(the model's input_size), got shape {x.shape}"
            )
    elif x.ndim not in (3, 4) or x.shape[-1] != D or 0 in x.shape or x.shape[1] != M:
        raise ValueError(
            f"inputs must have shape (T, M, D) or (T, M, B, D) with M = {M} (the number "
            f"of stacked models), T, B ≥ 1 and D = {D} (the models' input_size), "
            f"got shape {x.shape}"
        )
    _check_finite("inputs", x)
    batched = x.ndim == (3 if M is None else 4)
    return (x if batched else x[..., None, :]), batched


def _checked_targets(targets, scored, shape, batched):
    """targets as (T, [M,] B, O); shape = (T, M, B, O), M None for one model.
    With scored="last" only the last row is read."""
    T, M, B, O = shape
    models = () if M is None else (M,)
    last = (*models, B, O) if batched else (*models, O)
    full = (T, *last)
    y = _as_array("targets", targets)
    if y.shape == full:
        pass
    elif scored == "last" and y.shape == last:
        y = np.broadcast_to(y, full)
    else:
        expected = f"{full} or, with scored='last', {last}" if scored == "last" else f"{full}"
        raise ValueError(f"targets must have shape {expected}, got shape {y.shape}")
    _check_finite("targets", y)
    return y if batched else y[..., None, :]


def _checked_h0(h0, model, M, B, batched):
    """h0 for each direction, as a list of (B, H) arrays, stacked (M, B, H).

    One model: (H,), with a batch also (B, H); stacked: (H,) or (M, H), with a
    batch also (M, B, H). Bidirectional: also any of these but (H,) with a
    leading 2 (forward, reverse)."""
    H = model.hidden_size
    count = len(model.directions)
    models = () if M is None else (M,)
    full = (*models, B, H)
    if h0 is None:
        return [np.zeros(full)] * count
    h = _as_array("h0", h0)
    own_states = [(*models, H)] if models else []  # each model its own
    own_states += [full] if batched else []  # each sequence its own
    if not own_states:
        own_states = [(H,)]  # one model, one sequence: (2, H)
    shared = list(dict.fromkeys([(H,), *own_states]))  # one state for every direction
    per_direction = [(2, *shape) for shape in own_states] if count == 2 else []
    if h.shape not in shared + per_direction:
        allowed = " or ".join(str(s) for s in shared + per_direction)
        raise ValueError(f"h0 must have shape {allowed}, got shape {h.shape}")
    _check_finite("h0", h)

    def spread(state):  # (H,), (B, H), (M, H) or (M, B, H) → full
        if models and state.shape == (M, H):
            state = state[:, None]
        return np.broadcast_to(state, full)

    if h.shape in per_direction:
        return [spread(h[k]) for k in range(2)]
    return [spread(h)] * count


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
