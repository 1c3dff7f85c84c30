"""engine.train and engine.evaluate: the update, the records, divergence."""

import warnings

import numpy as np
import pytest

import engine


def _copy(params):
    return {k: v.copy() for k, v in params.items()}


def _adding(T=6, B=3):
    return lambda u: engine.tasks.make("adding", T, B, seed=u)


def test_first_sgd_update_moves_along_minus_lr_times_the_finite_difference_gradient():
    model = engine.build("lstm", 2, 3, 1, seed=2)
    task = engine.tasks.make("adding", 5, 2, seed=0)
    before = _copy(model.params)
    lr = 0.05
    list(engine.train(model, lambda u: task, engine.SGD(lr), 1))

    def loss_at(params):
        probe = engine.build("lstm", 2, 3, 1)
        probe.params.update(params)
        return engine.evaluate(probe, task.inputs, task.targets, scored="last").loss

    eps = 1e-6
    for name, value in before.items():
        numeric = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            up, down = _copy(before), _copy(before)
            up[name][index] += eps
            down[name][index] -= eps
            numeric[index] = (loss_at(up) - loss_at(down)) / (2 * eps)
        moved = (model.params[name] - value) / -lr
        np.testing.assert_allclose(moved, numeric, rtol=1e-5, atol=1e-8, err_msg=name)


def test_clipping_comes_first_then_the_weight_decay():
    model = engine.build("gru", 2, 3, 1, seed=1)
    task = engine.tasks.make("adding", 6, 4, seed=0)
    before = _copy(model.params)
    trace = engine.simulate(model, task.inputs, task.targets, scored="last", clip=0.01)
    assert trace.clip_scale < 1.0
    lr, decay = 0.5, 0.2
    (record,) = engine.train(
        model, lambda u: task, engine.SGD(lr, weight_decay=decay), 1, clip=0.01
    )
    assert record.clip_scale == trace.clip_scale and record.grad_norm == trace.grad_norm
    for name, value in before.items():
        expected = value - lr * (trace.clipped_grads[name] + decay * value)
        np.testing.assert_allclose(model.params[name], expected, rtol=1e-14, atol=1e-16)


def test_truncation_reaches_simulate():
    model = engine.build("rnn", 1, 3, 1, seed=1)
    task = engine.tasks.make("sine", 7, 2, seed=0)
    before = _copy(model.params)
    trace = engine.simulate(model, task.inputs, task.targets, truncate=3)
    list(engine.train(model, lambda u: task, engine.SGD(0.1), 1, truncate=3))
    for name, value in before.items():
        np.testing.assert_allclose(model.params[name], value - 0.1 * trace.grads[name], rtol=1e-14)


@pytest.mark.parametrize("kind", ["rnn", "jordan", "gru", "lstm"])
def test_a_record_describes_the_weights_and_gradients_before_its_step(kind):
    model = engine.build(kind, 2, 3, 1, seed=4)
    task = engine.tasks.make("adding", 6, 4, seed=0)
    weights = _copy(model.params)
    trace = engine.simulate(model, task.inputs, task.targets, scored="last")
    (record,) = engine.train(model, lambda u: task, engine.Adam(0.01), 1)
    assert record.update == 0 and record.diverged is False
    assert record.loss == trace.loss and record.grad_norm == trace.grad_norm
    assert record.clip_scale == 1.0
    norms = np.linalg.norm(trace.grad_hidden, axis=-1).mean(axis=1)  # (T,)
    np.testing.assert_allclose(record.lag_norms, norms[::-1], rtol=1e-15)
    W = weights["weight_hh"]
    if kind == "jordan":
        blocks = [W @ weights["weight_out"]]
    else:
        blocks = [W[g * 3 : (g + 1) * 3] for g in range(len(model.gates))]
    expected = [np.abs(np.linalg.eigvals(block)).max() for block in blocks]
    np.testing.assert_allclose(record.spectral_radius, expected, rtol=1e-12)
    assert record.spectral_radius.shape == (len(model.gates),)


def test_every_yields_every_kth_update():
    model = engine.build("rnn", 2, 2, 1)
    records = list(engine.train(model, _adding(), engine.SGD(0.1), 7, every=3))
    assert [r.update for r in records] == [0, 3, 6]


def test_a_bidirectional_model_records_both_directions():
    model = engine.build("gru", 1, 3, 1, bidirectional=True, seed=1)
    task = engine.tasks.make("sine", 5, 2, seed=0)
    trace = engine.simulate(model, task.inputs, task.targets)
    (record,) = engine.train(model, lambda u: task, engine.SGD(0.1), 1)
    assert record.spectral_radius_reverse.shape == (3,)
    reverse = np.linalg.norm(trace.grad_hidden_reverse, axis=-1).mean(axis=1)
    np.testing.assert_allclose(record.lag_norms_reverse, reverse, rtol=1e-15)


def test_training_lowers_the_loss_below_the_baseline():
    model = engine.build("gru", 2, 4, 1, seed=0)
    records = list(engine.train(model, _adding(T=4, B=16), engine.Adam(0.05), 150, every=10))
    losses = [r.loss for r in records]
    assert np.mean(losses[-3:]) < 1.0 / 12.0 < losses[0]


def test_exploding_elman_network_diverges_keeps_finite_parameters_and_warns_nothing():
    model = engine.build("rnn", 2, 4, 1, seed=0)
    W = model.params["weight_hh"]
    model.params["weight_hh"] = W * 3.0 / np.abs(np.linalg.eigvals(W)).max()  # ρ = 3
    assert engine.spectral_radius(model)[0] == pytest.approx(3.0)
    kept = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        records = []
        for record in engine.train(model, _adding(T=8, B=4), engine.SGD(1e6), 40):
            records.append(record)
            kept.append(_copy(model.params))
    flags = [bool(r.diverged) for r in records]
    first = flags.index(True)
    assert all(flags[first:]) and not any(flags[:first])
    assert not np.isfinite(records[first].loss) or not np.isfinite(records[first].grad_norm)
    for params in kept:
        assert all(np.isfinite(v).all() for v in params.values())
    # From the divergence on the parameters stay as they were before that step.
    for params in kept[first:]:
        for name, value in params.items():
            np.testing.assert_array_equal(value, kept[first - 1][name])


def test_evaluate_gives_simulate_loss_and_outputs_to_the_last_bit():
    rng = np.random.default_rng(0)
    cases = [
        ("rnn", {}, "mse", "all"),
        ("jordan", {}, "bce", "all"),
        ("gru", {"bidirectional": True}, "cross_entropy", "last"),
        ("mgu", {}, "mse", "last"),
        ("lstm", {"bidirectional": True, "forget_gate": False}, "mse", "all"),
    ]
    for kind, options, loss, scored in cases:
        model = engine.build(kind, 2, 3, 2, seed=1, **options)
        x = rng.standard_normal((5, 3, 2))
        y = rng.uniform(size=(5, 3, 2))
        if loss == "cross_entropy":
            y /= y.sum(-1, keepdims=True)
        trace = engine.simulate(model, x, y, loss=loss, scored=scored)
        result = engine.evaluate(model, x, y, loss=loss, scored=scored)
        assert result.loss == trace.loss, kind
        np.testing.assert_array_equal(result.outputs, trace.outputs)
    one = engine.evaluate(model, x[:, 0], y[:, 0])
    assert one.outputs.shape == (5, 2)


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda m: engine.train(m, _adding(), "sgd", 1), "opt"),
        (lambda m: engine.train(m, None, engine.SGD(0.1), 1), "task_maker"),
        (lambda m: engine.train(m, _adding(), engine.SGD(0.1), -1), "updates"),
        (lambda m: engine.train(m, _adding(), engine.SGD(0.1), 1, every=0), "every"),
        (lambda m: engine.train(m, _adding(), engine.SGD(0.1), 1, clip=0.0), "clip"),
        (lambda m: engine.train(m, _adding(), engine.SGD(0.1), 1, truncate=0), "truncate"),
        (lambda m: engine.evaluate(m, np.zeros((3, 5)), np.zeros((3, 1))), "inputs"),
        (lambda m: engine.evaluate(m, np.zeros((3, 2)), np.zeros((3, 1)), loss="l1"), "loss"),
    ],
)
def test_bad_arguments_raise_naming_them(call, argument):
    model = engine.build("rnn", 2, 2, 1)
    with pytest.raises(ValueError, match=rf"^{argument} "):
        call(model)
