"""The cliff of Pascanu, Mikolov and Bengio (2013): one sigmoid unit, fifty steps.

    s_t = σ(w·s_{t−1} + b),   s_0 = σ(0.5),   L(w, b) = ½ (s_50 − σ(0.7))²

is the contract's single-unit Elman network with a sigmoid (W_ih = 0, the
input all zeros, W_hh = w, b_hh = b, the readout the identity), scored on its
last step with mse. Its loss over (w, b) is flat almost everywhere and falls
off a cliff along a narrow ridge, where ∂L/∂w is enormous: one plain gradient
step there throws (w, b) far away, while the same step clipped to norm θ,
``g · min(1, θ/(‖g‖ + 1e-6))`` over the two parameters, walks on down.

The whole (w, b) grid is one stacked run (``engine.stack``, forward only);
each step of the two descents is one stacked run of two networks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import engine

STEPS = 50  # T; s_0 is h0, so s_50 is the last of 50 steps
START_STATE = 1.0 / (1.0 + np.exp(-0.5))  # σ(0.5)
TARGET = 1.0 / (1.0 + np.exp(-0.7))  # σ(0.7)
W_RANGE = (-2.0, 10.0)
B_RANGE = (-8.0, 4.0)
GRID = 100
DESCENT_STEPS = 40


def _unit():
    model = engine.build("rnn", 1, 1, 1, activation="sigmoid", seed=0)
    for name in ("weight_ih", "bias_ih", "bias_out"):
        model.params[name][...] = 0.0
    model.params["weight_out"][...] = 1.0
    return model


_UNIT = _unit()


def _units(w: np.ndarray, b: np.ndarray):
    """M single units, unit i with weight w[i] and bias b[i]."""
    M = len(w)
    models = engine.stack([_UNIT] * M)
    models.params["weight_hh"][...] = np.reshape(w, (M, 1, 1))
    models.params["bias_hh"][...] = np.reshape(b, (M, 1))
    return models


def _arrays(M: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    inputs = np.zeros((STEPS, M, 1))
    targets = np.full((M, 1), TARGET)
    h0 = np.full((M, 1), START_STATE)
    return inputs, targets, h0


@dataclass(frozen=True)
class Surface:
    """L over the grid: ``loss[i, j]`` at (w[j], b[i])."""

    w: np.ndarray  # (GRID,)
    b: np.ndarray  # (GRID,)
    loss: np.ndarray  # (GRID, GRID)


def surface(grid: int = GRID) -> Surface:
    w = np.linspace(*W_RANGE, grid)
    b = np.linspace(*B_RANGE, grid)
    ww, bb = np.meshgrid(w, b)
    models = _units(ww.ravel(), bb.ravel())
    inputs, targets, h0 = _arrays(models.size)
    loss, _ = engine.evaluate(models, inputs, targets, scored="last", h0=h0)
    return Surface(w, b, np.asarray(loss).reshape(grid, grid))


@dataclass(frozen=True)
class Descents:
    """Two gradient descents from one start: ``plain`` and ``clipped``, each
    (steps + 1, 2) points (w, b); their losses (steps + 1,) and gradient norms
    before clipping (steps,)."""

    plain: np.ndarray
    clipped: np.ndarray
    plain_loss: np.ndarray
    clipped_loss: np.ndarray
    plain_norm: np.ndarray
    clipped_norm: np.ndarray


def descents(start: tuple[float, float], lr: float, theta: float, steps: int = DESCENT_STEPS):
    """Plain and clipped gradient descent on L(w, b) from ``start``."""
    points = np.array([start, start], dtype=np.float64)  # row 0 plain, row 1 clipped
    path = [points.copy()]
    losses, norms = [], []
    inputs, targets, h0 = _arrays(2)
    with np.errstate(all="ignore"):
        for _ in range(steps + 1):
            models = _units(points[:, 0], points[:, 1])
            trace = engine.simulate(models, inputs, targets, scored="last", h0=h0)
            losses.append(trace.loss)
            if len(path) > steps:
                break
            g = np.stack(
                [trace.grads["weight_hh"].reshape(2), trace.grads["bias_hh"].reshape(2)], axis=1
            )  # (2, 2): ∂L/∂(w, b) at each path's point
            norm = np.sqrt((g**2).sum(axis=1))
            scale = np.array([1.0, min(1.0, theta / (norm[1] + 1e-6))])
            step = np.where(np.isfinite(g), g, 0.0) * scale[:, None]
            points = points - lr * step
            norms.append(norm)
            path.append(points.copy())
    path_array = np.array(path)
    loss_array = np.array(losses)
    norm_array = np.array(norms)
    return Descents(
        plain=path_array[:, 0],
        clipped=path_array[:, 1],
        plain_loss=loss_array[:, 0],
        clipped_loss=loss_array[:, 1],
        plain_norm=norm_array[:, 0],
        clipped_norm=norm_array[:, 1],
    )


def last_state(w: float, b: float) -> float:
    """s_50 of one unit, step by step (no engine: the ridge search needs only this)."""
    s = START_STATE
    with np.errstate(all="ignore"):
        for _ in range(STEPS):
            s = 1.0 / (1.0 + np.exp(-(w * s + b)))
    return float(s)


def cliff_edge(w: float, low: float = B_RANGE[0], high: float = B_RANGE[1]) -> float | None:
    """The b at which s_50 jumps between the unit's two fixed points, for this w
    (bisection on which side of ½ it ends), or None where there is no jump.

    A start a hair above it (``b + 1e-6``) sits on the cliff's face: from there
    one plain gradient step is thrown far away and a clipped one is not.
    """
    grid = np.linspace(low, high, 241)
    upper = np.array([last_state(w, b) > 0.5 for b in grid])
    flips = np.flatnonzero(upper[1:] != upper[:-1])
    if not len(flips):
        return None
    lo, hi = grid[flips[0]], grid[flips[0] + 1]
    high_side = upper[flips[0] + 1]
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if (last_state(w, mid) > 0.5) == high_side:
            hi = mid
        else:
            lo = mid
    return float(lo)
