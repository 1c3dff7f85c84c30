"""engine.SGD and engine.Adam against their update rules written out by hand."""

import re
from types import SimpleNamespace

import numpy as np
import pytest

import engine


def _model(seed=0):
    return engine.build("rnn", 2, 3, 1, seed=seed)


def _grads(model, seed):
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(value.shape) for name, value in model.params.items()}


def test_sgd_without_momentum_steps_along_minus_lr_times_gradient():
    model = _model()
    before = {k: v.copy() for k, v in model.params.items()}
    g = _grads(model, 1)
    engine.SGD(0.3).step(model, g)
    for name in before:
        np.testing.assert_allclose(model.params[name], before[name] - 0.3 * g[name], rtol=0, atol=0)


def test_sgd_momentum_buffers_and_weight_decay_three_steps():
    lr, mu, decay = 0.1, 0.9, 0.01
    model = _model()
    opt = engine.SGD(lr, momentum=mu, weight_decay=decay)
    theta = {k: v.copy() for k, v in model.params.items()}
    buffer = {}
    for step in range(3):
        g = _grads(model, 10 + step)
        opt.step(model, g)
        for name in theta:
            d = g[name] + decay * theta[name]
            buffer[name] = d if step == 0 else mu * buffer[name] + d
            theta[name] = theta[name] - lr * buffer[name]
            np.testing.assert_allclose(model.params[name], theta[name], rtol=1e-14, atol=1e-15)
            np.testing.assert_allclose(opt.momentum_buffer[name], buffer[name], rtol=1e-14)


def test_adam_bias_correction_and_weight_decay_three_steps():
    lr, (b1, b2), eps, decay = 0.01, (0.8, 0.99), 1e-8, 0.05
    model = _model()
    opt = engine.Adam(lr, betas=(b1, b2), eps=eps, weight_decay=decay)
    theta = {k: v.copy() for k, v in model.params.items()}
    m = {k: np.zeros_like(v) for k, v in theta.items()}
    v = {k: np.zeros_like(x) for k, x in theta.items()}
    for n in (1, 2, 3):
        g = _grads(model, 20 + n)
        opt.step(model, g)
        for name in theta:
            d = g[name] + decay * theta[name]
            m[name] = b1 * m[name] + (1 - b1) * d
            v[name] = b2 * v[name] + (1 - b2) * d * d
            m_hat = m[name] / (1 - b1**n)
            v_hat = v[name] / (1 - b2**n)
            theta[name] = theta[name] - lr * m_hat / (np.sqrt(v_hat) + eps)
            np.testing.assert_allclose(model.params[name], theta[name], rtol=1e-13, atol=1e-15)


def test_adam_first_step_moves_every_entry_by_about_lr():
    # With bias correction the first step is lr·g/(|g| + ε'): ±lr wherever g ≠ 0.
    model = _model()
    before = {k: v.copy() for k, v in model.params.items()}
    engine.Adam(0.01).step(model, _grads(model, 3))
    for name in before:
        np.testing.assert_allclose(np.abs(model.params[name] - before[name]), 0.01, rtol=1e-5)


def test_a_stacked_model_steps_each_model_with_its_own_state():
    models = [_model(seed) for seed in range(3)]
    stacked = SimpleNamespace(
        size=3, params={k: np.stack([m.params[k] for m in models]) for k in models[0].params}
    )
    for make in (lambda: engine.Adam(0.05, weight_decay=0.1), lambda: engine.SGD(0.1, 0.5, 0.1)):
        separate = [make() for _ in models]
        together = make()
        for step in range(3):
            grads = [_grads(m, 100 * step + i) for i, m in enumerate(models)]
            for opt, model, g in zip(separate, models, grads, strict=True):
                opt.step(model, g)
            together.step(stacked, {k: np.stack([g[k] for g in grads]) for k in grads[0]})
        for i, model in enumerate(models):
            for name, value in model.params.items():
                np.testing.assert_allclose(stacked.params[name][i], value, rtol=1e-14)


def test_restore_puts_back_only_the_masked_models():
    stacked = SimpleNamespace(size=2, params={"w": np.zeros((2, 3))})
    opt = engine.Adam(0.1)
    opt.step(stacked, {"w": np.ones((2, 3))})
    saved = opt.state_copy()
    opt.step(stacked, {"w": np.ones((2, 3))})
    opt.restore(saved, np.array([True, False]))
    np.testing.assert_array_equal(opt.steps, [1.0, 2.0])
    np.testing.assert_array_equal(opt.exp_avg["w"][0], saved["exp_avg[w]"][0])
    assert not np.array_equal(opt.exp_avg["w"][1], saved["exp_avg[w]"][1])


@pytest.mark.parametrize(
    ("make", "argument"),
    [
        (lambda: engine.SGD(0.0), "lr"),
        (lambda: engine.SGD(0.1, momentum=1.0), "momentum"),
        (lambda: engine.SGD(0.1, weight_decay=-1.0), "weight_decay"),
        (lambda: engine.Adam(float("nan")), "lr"),
        (lambda: engine.Adam(0.1, betas=(0.9,)), "betas"),
        (lambda: engine.Adam(0.1, betas=(0.9, 1.0)), "betas[1]"),
        (lambda: engine.Adam(0.1, eps=-1e-8), "eps"),
    ],
)
def test_bad_settings_raise_naming_the_argument(make, argument):
    with pytest.raises(ValueError, match="^" + re.escape(argument) + " "):
        make()


def test_bad_grads_raise_naming_the_entry():
    model = _model()
    g = _grads(model, 0)
    del g["bias_out"]
    with pytest.raises(ValueError, match=r"grads\['bias_out'\]"):
        engine.SGD(0.1).step(model, g)
    g = _grads(model, 0)
    g["weight_hh"] = np.zeros((2, 2))
    with pytest.raises(ValueError, match=r"grads\['weight_hh'\] must have shape \(3, 3\)"):
        engine.SGD(0.1).step(model, g)
