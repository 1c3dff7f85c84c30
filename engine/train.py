"""Training: draw a batch, run BPTT, clip, step the optimizer, record.

For update u = 0, 1, …, updates − 1:

    task = task_maker(u)                               a batch (engine.tasks.make)
    L, g = simulate(model, task.inputs, task.targets)  loss and ∂L/∂θ, full or truncated BPTT
    g ← g · min(1, θ/(‖g‖ + 1e-6))                     when clip=θ (clip_grad_norm_)
    opt.step(model, g)                                 the optimizer adds the weight decay

which is PyTorch's loop (zero_grad, loss.backward, clip_grad_norm_,
optimizer.step), step for step. The simulation is ``simulate``'s, through
``training_trace``: the same numbers, bit for bit, without the scans
for non-finite values and the copies for ``reuse`` that training never reads
(measured: 2-15% of an update, bench/engine_train.py).
"""

from dataclasses import dataclass

import numpy as np

from engine.optim import _Optimizer, stack_size
from engine.simulate import _checked_arguments, _checked_clip, _checked_truncate, _run


@dataclass(frozen=True, eq=False)
class TrainRecord:
    """What one update saw, before its step: M-leading arrays for a stacked model.

    update:          u, the index of the batch task_maker(u).
    loss:            L on that batch, at the parameters before the step (inf or
                     nan when it overflowed); (M,) when stacked.
    grad_norm:       ‖∂L/∂θ‖ over all parameters, before clipping; (M,).
    clip_scale:      min(1, θ/(grad_norm + 1e-6)), 1.0 without clipping; (M,).
    spectral_radius: (G,) max |eigenvalue| of each H × H gate block of W_hh, in
                     gate order (jordan: of the loop W_hh·W_out); (M, G).
    lag_norms:       (T,) mean over the batch of ‖∂L/∂h_{T−1−k}‖ for k = 0 … T−1
                     (L the batch-mean loss, as h_t.grad holds it); (M, T).
    diverged:        True from the first update whose loss, or whose step's
                     parameters, were not finite; (M,) when stacked.
    spectral_radius_reverse, lag_norms_reverse: the same for the reverse
                     direction of a bidirectional model, else None; its lag k is
                     k steps back from the last step it reads, i.e. position k.
    """

    update: int
    loss: float | np.ndarray
    grad_norm: float | np.ndarray
    clip_scale: float | np.ndarray
    spectral_radius: np.ndarray
    lag_norms: np.ndarray
    diverged: bool | np.ndarray
    spectral_radius_reverse: np.ndarray | None = None
    lag_norms_reverse: np.ndarray | None = None


def train(model, task_maker, opt, updates, *, clip=None, truncate=None, every=1):
    """Train ``model`` in place for ``updates`` updates; yield a ``TrainRecord``
    for every ``every``-th (updates 0, every, 2·every, …).

    model:      from ``engine.build``, or ``engine.stack`` (M models, each trained
                with its own optimizer state, loss, clipping and divergence; a
                task's (T, B, D) inputs are given to every model, (T, M, B, D)
                ones model by model).
    task_maker: u ↦ a ``Task`` (e.g. ``lambda u: tasks.make("adding", 50, 32, seed=u)``).
    opt:        ``engine.SGD`` or ``engine.Adam``; it keeps its state across calls.
    updates:    the number of updates, a whole number ≥ 0.
    clip:       θ > 0 clips each update's gradient by its global norm, or None.
    truncate:   k ≥ 1 for truncated BPTT (``simulate``'s), or None.
    every:      yield every ``every``-th update's record (≥ 1).

    A non-finite loss ends nothing: the record carries it and ``diverged`` is
    True from then on. That model's parameters (and optimizer state) stay as
    they were before the step that would have made them non-finite, and it is
    not stepped again. No NumPy warning is raised and no global state changes.
    The generator does the work as it is consumed.
    """
    if not isinstance(opt, _Optimizer):
        raise ValueError(f"opt must be engine.SGD or engine.Adam, got {type(opt).__name__}")
    if not callable(task_maker):
        raise ValueError(f"task_maker must be a callable u ↦ Task, got {type(task_maker).__name__}")
    updates = _whole("updates", updates, minimum=0)
    every = _whole("every", every, minimum=1)
    clip = _checked_clip(clip)
    truncate = _checked_truncate(truncate)
    return _updates(model, task_maker, opt, updates, clip, truncate, every)


def _updates(model, task_maker, opt, updates, clip, truncate, every):
    size = stack_size(model)
    diverged = False if size is None else np.zeros(size, dtype=bool)
    for u in range(updates):
        task = task_maker(u)
        inputs, targets = _task_arrays(task, size)
        trace = training_trace(
            model,
            inputs,
            targets,
            loss=task.loss,
            scored=task.scored,
            truncate=truncate,
            clip=clip,
        )
        record_now = u % every == 0
        if record_now:  # the weights that produced this loss, before the step
            radius = [spectral_radius(model, suffix) for suffix in model.directions]
        # No yield inside errstate: its context variable cannot be reset from
        # another thread or context, where a caller (a web page's rerun) may
        # resume this generator.
        with np.errstate(all="ignore"):
            diverged = _step(model, opt, trace, clip, diverged, size)
            record = _record(u, trace, radius, diverged, size) if record_now else None
        if record is not None:
            yield record


def _step(model, opt, trace, clip, diverged, size):
    """Step ``opt`` unless the result is not finite; return the new ``diverged``."""
    params = model.params
    saved = {name: np.array(value, dtype=np.float64) for name, value in params.items()}
    saved_state = opt.state_copy()
    opt.step(model, trace.clipped_grads if clip is not None else trace.grads)
    loss_ok = np.isfinite(trace.loss)
    if size is None:
        params_ok = all(np.isfinite(value).all() for value in params.values())
        bad = bool(diverged or not loss_ok or not params_ok)
        if bad:
            for name, value in saved.items():
                params[name][...] = value
            opt.restore(saved_state)
        return bad
    params_ok = np.ones(size, dtype=bool)
    for value in params.values():
        params_ok &= np.isfinite(value).reshape(size, -1).all(axis=1)
    bad = diverged | ~loss_ok | ~params_ok
    if bad.any():
        for name, value in saved.items():
            params[name][bad] = value[bad]
        opt.restore(saved_state, bad)
    return bad


def _record(u, trace, radius, diverged, size):
    lags = [_lag_norms(trace.grad_hidden, size)]
    if trace.grad_hidden_reverse is not None:
        lags.append(_lag_norms(trace.grad_hidden_reverse[::-1], size))
    as_value = float if size is None else np.asarray
    return TrainRecord(
        update=u,
        loss=as_value(trace.loss),
        grad_norm=as_value(trace.grad_norm),
        clip_scale=as_value(trace.clip_scale),
        spectral_radius=radius[0],
        lag_norms=lags[0],
        diverged=diverged if size is None else diverged.copy(),
        spectral_radius_reverse=radius[1] if len(radius) > 1 else None,
        lag_norms_reverse=lags[1] if len(lags) > 1 else None,
    )


def _lag_norms(grad_hidden, size):
    """(T, [M,] [B,] H) ∂L/∂h_t → ([M,] T): batch-mean norms, lag k = T − 1 − t first."""
    norms = np.linalg.norm(grad_hidden, axis=-1)  # (T, [M,] [B])
    keep = 1 if size is None else 2
    norms = norms.reshape(*norms.shape[:keep], -1).mean(axis=-1)  # (T, [M])
    return np.ascontiguousarray(np.moveaxis(norms, 0, -1)[..., ::-1])


def spectral_radius(model, suffix=""):
    """(G,) max |eigenvalue| of each H × H gate block of W_hh (jordan: of W_hh·W_out).

    A stacked model gives (M, G). ``suffix``: "" or "_reverse".
    """
    W_hh = np.asarray(model.params["weight_hh" + suffix], dtype=np.float64)
    H = model.hidden_size
    if model.kind == "jordan":
        loops = (W_hh @ np.asarray(model.params["weight_out"], dtype=np.float64))[..., None, :, :]
    else:
        loops = W_hh.reshape(*W_hh.shape[:-2], -1, H, H)  # (…, G, H, H)
    with np.errstate(all="ignore"):
        return np.abs(np.linalg.eigvals(loops)).max(axis=-1)


def _task_arrays(task, size):
    """The task's inputs and targets for ``simulate``: as they are for one model;
    for M stacked models, (T, B, D) inputs (and their targets) are given to
    every model, while (T, M, B, D) ones already hold one batch per model."""
    inputs = np.asarray(task.inputs, dtype=np.float64)
    targets = np.asarray(task.targets, dtype=np.float64)
    if size is None or inputs.ndim == 4:
        return inputs, targets
    T = inputs.shape[0]
    shared_inputs = np.broadcast_to(inputs[:, None], (T, size, *inputs.shape[1:]))
    if targets.ndim == inputs.ndim:  # one target per step
        shared_targets = np.broadcast_to(targets[:, None], (T, size, *targets.shape[1:]))
    else:  # scored="last": (B, O)
        shared_targets = np.broadcast_to(targets[None], (size, *targets.shape))
    return shared_inputs, shared_targets


def _whole(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be a whole number ≥ {minimum}, got {value!r}")
    return int(value)


def training_trace(model, inputs, targets, *, loss, scored, truncate, clip):
    """``simulate`` as ``engine.train`` needs it: the same checks, loss, grads,
    grad_norm, clip_scale, clipped_grads and grad_hidden, bit for bit, but
    without what training never reads: the scans for non-finite values
    (``nonfinite_forward`` and ``nonfinite_backward`` are None) and the copies
    of the parameters and inputs that ``reuse`` compares (the trace cannot be
    reused). The scans read every per-step array once more: some 12% of an
    LSTM update at T = 100, H = 64, batch 32 (bench/engine_train.py).
    """
    checked = _checked_arguments(model, inputs, targets, loss, scored, truncate, clip, None)
    with np.errstate(all="ignore"):
        return _run(model, *checked, None, lean=True)
