"""Optimizers with PyTorch's update rules, so a run can be checked against torch.optim.

θ is every entry of ``model.params``, g the gradient handed to ``step`` (already
clipped when clipping is on), λ the weight decay, η the learning rate:

    SGD  (torch.optim.SGD, dampening 0, not Nesterov):
         d = g + λθ;  b = d on the first step, else b = μb + d;  θ ← θ − η·(b if μ else d)
    Adam (torch.optim.Adam, not AMSGrad), step count n = 1, 2, …:
         d = g + λθ;  m = β₁m + (1 − β₁)d;  v = β₂v + (1 − β₂)d²
         θ ← θ − (η / (1 − β₁ⁿ)) · m / (√v / √(1 − β₂ⁿ) + ε)

The decay is added to the gradient, to every entry (biases too), as PyTorch
does. A stacked model (``engine.stack``, every entry with a leading M) is
stepped elementwise, so each of its M models keeps its own buffers; Adam's
step count is kept per model too, so that ``engine.train`` can leave a
diverged model's state as it was.
"""

import numbers

import numpy as np


def stack_size(model):
    """M for a stacked model (``engine.stack``), None for a single one."""
    size = getattr(model, "size", None)
    return None if size is None else int(size)


def _checked_rate(name, value, *, positive=False, below_one=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    low_ok = value > 0 if positive else value >= 0
    if not low_ok or (below_one and not value < 1):
        bound = "> 0" if positive else "≥ 0"
        if below_one:
            bound = "in [0, 1)"
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    return float(value)


def _in_place_params(model):
    """model.params with every entry a writeable float64 array (converted once if not)."""
    params = model.params
    for name, value in params.items():
        if not (
            isinstance(value, np.ndarray) and value.dtype == np.float64 and value.flags.writeable
        ):
            params[name] = np.array(value, dtype=np.float64)
    return params


def _checked_grads(params, grads):
    if not isinstance(grads, dict):
        raise ValueError(f"grads must be a dict like model.params, got {type(grads).__name__}")
    checked = {}
    for name, value in params.items():
        if name not in grads:
            raise ValueError(f"grads[{name!r}] is missing: expected shape {value.shape}")
        g = np.asarray(grads[name], dtype=np.float64)
        if g.shape != value.shape:
            raise ValueError(f"grads[{name!r}] must have shape {value.shape}, got shape {g.shape}")
        checked[name] = g
    return checked


class _Optimizer:
    """What SGD and Adam share: the checks and the state ``engine.train`` saves."""

    def step(self, model, grads):
        """Update ``model.params`` in place from ``grads`` (a dict like ``model.params``).

        grads: ∂L/∂θ for every entry, e.g. ``trace.grads`` or, when clipping,
        ``trace.clipped_grads``; with a stacked model each has the leading M.
        """
        params = _in_place_params(model)
        grads = _checked_grads(params, grads)
        with np.errstate(all="ignore"):
            self._update(params, grads, stack_size(model))

    def _state_arrays(self):
        """Every array of the optimizer's state, by key (for saving and restoring)."""
        raise NotImplementedError

    def state_copy(self):
        """A copy of the state, for ``restore``."""
        return {key: value.copy() for key, value in self._state_arrays().items()}

    def restore(self, saved, where=None):
        """Put back the state ``state_copy`` saved: all of it, or, for a stacked
        model, only the models where the (M,) boolean mask ``where`` is True."""
        current = self._state_arrays()
        for key, value in current.items():
            if key not in saved:  # created by the step being undone
                self._drop(key, where)
                continue
            if where is None:
                value[...] = saved[key]
            else:
                value[where] = saved[key][where]

    def _drop(self, key, where):
        # Zero buffers (and step 0) are the same as no state at all.
        value = self._state_arrays()[key]
        if where is None:
            value[...] = 0.0
        else:
            value[where] = 0.0


class SGD(_Optimizer):
    """torch.optim.SGD(lr, momentum, dampening=0, weight_decay, nesterov=False).

    lr: η > 0; momentum: μ in [0, 1); weight_decay: λ ≥ 0.
    State: ``momentum_buffer[name]`` b (the shape of the entry), zeros before the first step.
    """

    def __init__(self, lr, momentum=0.0, weight_decay=0.0):
        self.lr = _checked_rate("lr", lr, positive=True)
        self.momentum = _checked_rate("momentum", momentum, below_one=True)
        self.weight_decay = _checked_rate("weight_decay", weight_decay)
        self.momentum_buffer = {}

    def _update(self, params, grads, size):
        for name, theta in params.items():
            d = grads[name]
            if self.weight_decay:
                d = d + self.weight_decay * theta
            if self.momentum:
                # A zero buffer gives b = μ·0 + d = d exactly: torch's first step.
                buffer = self.momentum_buffer.setdefault(name, np.zeros_like(theta))
                buffer *= self.momentum
                buffer += d
                d = buffer
            theta -= self.lr * d

    def _state_arrays(self):
        return dict(self.momentum_buffer)

    def __repr__(self):
        return f"SGD(lr={self.lr}, momentum={self.momentum}, weight_decay={self.weight_decay})"


class Adam(_Optimizer):
    """torch.optim.Adam(lr, betas, eps, weight_decay, amsgrad=False).

    lr: η > 0; betas: (β₁, β₂) each in [0, 1); eps: ε ≥ 0; weight_decay: λ ≥ 0.
    State: ``steps`` n (a number, or (M,) for a stacked model), ``exp_avg[name]``
    m and ``exp_avg_sq[name]`` v (the shape of the entry), zeros before the first step.
    """

    def __init__(self, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.lr = _checked_rate("lr", lr, positive=True)
        try:
            beta1, beta2 = betas
        except (TypeError, ValueError):
            raise ValueError(f"betas must be a pair (β₁, β₂), got {betas!r}") from None
        self.betas = (
            _checked_rate("betas[0]", beta1, below_one=True),
            _checked_rate("betas[1]", beta2, below_one=True),
        )
        self.eps = _checked_rate("eps", eps)
        self.weight_decay = _checked_rate("weight_decay", weight_decay)
        self.steps = None
        self.exp_avg = {}
        self.exp_avg_sq = {}

    def _update(self, params, grads, size):
        beta1, beta2 = self.betas
        if self.steps is None:
            self.steps = np.zeros(() if size is None else (size,))
        self.steps += 1.0
        # Bias corrections, shaped to broadcast over each entry's own axes.
        correction1 = 1.0 - beta1**self.steps
        correction2_root = np.sqrt(1.0 - beta2**self.steps)
        step_size = self.lr / correction1
        for name, theta in params.items():
            d = grads[name]
            if self.weight_decay:
                d = d + self.weight_decay * theta
            if name not in self.exp_avg:  # (setdefault would make the zeros every step)
                self.exp_avg[name] = np.zeros_like(theta)
                self.exp_avg_sq[name] = np.zeros_like(theta)
            m, v = self.exp_avg[name], self.exp_avg_sq[name]
            # In place, through two scratch arrays, in the same order of operations.
            scratch, denominator = np.empty_like(theta), np.empty_like(theta)
            np.subtract(d, m, out=scratch)
            scratch *= 1.0 - beta1
            m += scratch  # torch's lerp: m + (1 − β₁)(d − m)
            v *= beta2
            np.multiply(1.0 - beta2, d, out=scratch)
            scratch *= d
            v += scratch  # (1 − β₂)·d·d
            per_model = (...,) if size is None else (slice(None), *[None] * (theta.ndim - 1))
            np.sqrt(v, out=denominator)
            denominator /= correction2_root[per_model]
            denominator += self.eps  # √v / √(1 − β₂ⁿ) + ε
            np.multiply(step_size[per_model], m, out=scratch)
            scratch /= denominator
            theta -= scratch  # θ − (η / (1 − β₁ⁿ))·m / denominator

    def _state_arrays(self):
        arrays = {f"exp_avg[{k}]": v for k, v in self.exp_avg.items()}
        arrays.update({f"exp_avg_sq[{k}]": v for k, v in self.exp_avg_sq.items()})
        if self.steps is not None:
            arrays["steps"] = self.steps
        return arrays

    def __repr__(self):
        return (
            f"Adam(lr={self.lr}, betas={self.betas}, eps={self.eps}, "
            f"weight_decay={self.weight_decay})"
        )
