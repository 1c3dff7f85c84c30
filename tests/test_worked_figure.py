"""The notes' worked figure (002): one unit, weight w, fifty steps back.

With a linear (or ReLU, on positive pre-activations) unit, every step back
multiplies `∂L/∂h` by w, so fifty steps back it has grown by `w**50`:
117.39 for w = 1.1 and 0.00515 for w = 0.9. (The notes say "65 times of
repetition" but their figures are the fiftieth powers.)
"""

import numpy as np
import pytest

import engine

STEPS = 60
BACK = 50


def single_unit_trace(weight, activation, inputs):
    """One unit (H = D = O = 1), recurrent weight `weight`, loss on the last step.

    inputs: (STEPS, 1). Returns the trace.
    """
    model = engine.build("rnn", 1, 1, 1, activation=activation, seed=0)
    model.params["weight_hh"] = np.array([[weight]])
    model.params["weight_ih"] = np.array([[1.0]])
    model.params["bias_ih"] = np.zeros(1)
    model.params["bias_hh"] = np.zeros(1)
    model.params["weight_out"] = np.array([[1.0]])
    model.params["bias_out"] = np.zeros(1)
    targets = np.full((STEPS, 1), -5.0)  # far from any output, so ∂L/∂p ≠ 0
    return engine.simulate(model, inputs, targets, scored="last")


def fifty_steps_back_ratio(trace):
    """|∂L/∂h_{T-1-50}| / |∂L/∂h_{T-1}|."""
    grad = trace.grad_hidden[:, 0]
    return abs(grad[STEPS - 1 - BACK]) / abs(grad[STEPS - 1])


def positive_inputs():
    """(STEPS, 1) inputs in (0.1, 1): every pre-activation stays positive."""
    return np.random.default_rng(0).uniform(0.1, 1.0, size=(STEPS, 1))


@pytest.mark.parametrize("activation", ["linear", "relu"])
def test_weight_above_one_grows_the_gradient_117_fold(activation):
    ratio = fifty_steps_back_ratio(single_unit_trace(1.1, activation, positive_inputs()))
    assert ratio == pytest.approx(1.1**50, rel=1e-9)
    assert round(ratio, 2) == 117.39


@pytest.mark.parametrize("activation", ["linear", "relu"])
def test_weight_below_one_shrinks_the_gradient_to_half_a_percent(activation):
    ratio = fifty_steps_back_ratio(single_unit_trace(0.9, activation, positive_inputs()))
    assert ratio == pytest.approx(0.9**50, rel=1e-9)
    assert round(ratio, 5) == 0.00515


def test_every_step_back_multiplies_by_the_weight():
    grad = single_unit_trace(1.1, "linear", positive_inputs()).grad_hidden[:, 0]
    np.testing.assert_allclose(grad[:-1] / grad[1:], 1.1, rtol=1e-12)


@pytest.mark.parametrize("weight", [1.1, 0.9])
def test_tanh_shrinks_each_step_below_the_weight(weight):
    """tanh' ≤ 1 (and < 1 off zero), so the ratio stays below w**50."""
    trace = single_unit_trace(weight, "tanh", positive_inputs())
    ratio = fifty_steps_back_ratio(trace)
    assert 0 < ratio < weight**50
    assert np.all(np.abs(trace.hidden) < 1)
