"""engine.functions: the activations' slopes written into a given array (``out=``),
as the LSTM's forward sweep writes them into its gate_slope in place."""

import numpy as np
import pytest

from engine.functions import ACTIVATIONS, activation, sigmoid

EDGES = [0.0, -0.0, 1.0, -1.0, 1e-300, -1e-300, 40.0, -40.0, 800.0, -800.0, np.inf, -np.inf]


def _outputs(name):
    act, _ = activation(name)
    a = np.concatenate([np.random.default_rng(0).standard_normal(200) * 5, EDGES])
    with np.errstate(all="ignore"):
        return act(a)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_slope_into_out_is_bit_for_bit_the_fresh_slope(name):
    _, slope = activation(name)
    y = _outputs(name)
    out = np.full((*y.shape, 2), np.nan)[..., 0]  # a strided view, as a gate's columns are
    written = slope(y, out=out)
    assert written is out
    fresh = slope(y)
    assert fresh.dtype == np.float64
    np.testing.assert_array_equal(out, fresh)
    assert np.array_equal(np.signbit(out), np.signbit(fresh))


def test_sigmoid_is_one_over_one_plus_exp_minus_a_to_the_last_bit():
    a = np.concatenate([np.random.default_rng(1).standard_normal(1000) * 30, EDGES])
    with np.errstate(all="ignore"):
        expected = 1.0 / (1.0 + np.exp(-a))
        out = np.empty_like(a)
        assert sigmoid(a, out=out) is out
    np.testing.assert_array_equal(out, expected)
    assert out[a == np.inf][0] == 1.0 and out[a == -np.inf][0] == 0.0
