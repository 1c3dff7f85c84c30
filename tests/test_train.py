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


# --- stacked models: several seeds side by side in one run ---------------------------


def _separate_and_stacked(kind, seeds, **options):
    models = [engine.build(kind, 2, 3, 1, seed=s, **options) for s in seeds]
    stacked = engine.stack([engine.build(kind, 2, 3, 1, seed=s, **options) for s in seeds])
    return models, stacked


@pytest.mark.parametrize(
    ("kind", "make", "clip", "truncate"),
    [
        ("rnn", lambda: engine.SGD(0.2, momentum=0.9, weight_decay=0.01), 0.05, None),
        ("gru", lambda: engine.Adam(0.02, weight_decay=0.01), 0.05, 3),
        ("lstm", lambda: engine.Adam(0.02), None, None),
        ("jordan", lambda: engine.SGD(0.1), 0.5, 2),
    ],
)
def test_stacked_training_equals_separate_runs(kind, make, clip, truncate):
    seeds = (0, 1, 2)
    models, stacked = _separate_and_stacked(kind, seeds)
    maker = _adding(T=6, B=4)
    options = {"clip": clip, "truncate": truncate, "every": 2}
    separate = [list(engine.train(m, maker, make(), 5, **options)) for m in models]
    together = list(engine.train(stacked, maker, make(), 5, **options))
    assert [r.update for r in together] == [0, 2, 4]
    for j, record in enumerate(together):
        assert record.loss.shape == (3,) and record.spectral_radius.shape[0] == 3
        assert record.lag_norms.shape == (3, 6) and record.diverged.shape == (3,)
        for i in range(3):
            alone = separate[i][j]
            for field in ("loss", "grad_norm", "clip_scale"):
                assert getattr(record, field)[i] == pytest.approx(getattr(alone, field), rel=1e-12)
            np.testing.assert_allclose(record.spectral_radius[i], alone.spectral_radius, rtol=1e-12)
            np.testing.assert_allclose(record.lag_norms[i], alone.lag_norms, rtol=1e-12)
    for i, model in enumerate(models):
        for name, value in model.params.items():
            np.testing.assert_allclose(stacked.params[name][i], value, rtol=1e-12, atol=1e-15)


def test_stacked_training_takes_one_batch_per_model():
    def own(i):
        return lambda u: engine.tasks.make("sine", 5, 2, seed=10 * u + i)

    def both(u):
        tasks = [own(i)(u) for i in range(2)]
        return engine.Task(
            np.stack([t.inputs for t in tasks], axis=1),
            np.stack([t.targets for t in tasks], axis=1),
            "all", "mse", tasks[0].baseline, "sine",
        )  # fmt: skip

    models, stacked = _separate_and_stacked_d1("gru", (3, 4))
    for i, model in enumerate(models):
        list(engine.train(model, own(i), engine.Adam(0.05), 3))
    list(engine.train(stacked, both, engine.Adam(0.05), 3))
    for i, model in enumerate(models):
        for name, value in model.params.items():
            np.testing.assert_allclose(stacked.params[name][i], value, rtol=1e-12, atol=1e-15)


def _separate_and_stacked_d1(kind, seeds):
    models = [engine.build(kind, 1, 3, 1, seed=s) for s in seeds]
    return models, engine.stack([engine.build(kind, 1, 3, 1, seed=s) for s in seeds])


def test_one_diverging_model_of_a_stack_leaves_the_others_training():
    models, stacked = _separate_and_stacked("rnn", (0, 1))
    stacked.params["weight_out"][0] *= 1e200  # its loss overflows at once
    wild = stacked[0]
    maker = _adding(T=8, B=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        records = list(engine.train(stacked, maker, engine.SGD(0.1), 6))
        alone = list(engine.train(wild, maker, engine.SGD(0.1), 6))
        list(engine.train(models[1], maker, engine.SGD(0.1), 6))
    assert [r.diverged.tolist() for r in records] == [[True, False]] * 6
    assert [r.diverged for r in alone] == [True] * 6
    assert np.isinf(records[0].loss[0]) and np.isfinite(records[-1].loss[1])
    for name, value in wild.params.items():
        np.testing.assert_array_equal(stacked.params[name][0], value)
        np.testing.assert_allclose(stacked.params[name][1], models[1].params[name], rtol=1e-12)


def test_evaluate_a_stack_gives_each_models_own_loss():
    models, stacked = _separate_and_stacked("lstm", (0, 1, 2))
    task = engine.tasks.make("adding", 5, 3, seed=0)
    x = np.stack([task.inputs] * 3, axis=1)
    y = np.stack([task.targets] * 3)
    result = engine.evaluate(stacked, x, y, scored="last")
    trace = engine.simulate(stacked, x, y, scored="last")
    np.testing.assert_array_equal(result.loss, trace.loss)
    np.testing.assert_array_equal(result.outputs, trace.outputs)
    for i, model in enumerate(models):
        alone = engine.evaluate(model, task.inputs, task.targets, scored="last")
        assert result.loss[i] == pytest.approx(alone.loss, rel=1e-12)


@pytest.mark.parametrize(
    ("kind", "options"), [("mgu", {}), ("gru", {"bidirectional": True}), ("lstm", {})]
)
def test_the_training_trace_is_simulates_to_the_last_bit(kind, options):
    from engine.train import training_trace

    model = engine.build(kind, 1, 3, 1, seed=3, **options)
    task = engine.tasks.make("sine", 7, 3, seed=1)
    settings = {"loss": "mse", "scored": "all", "truncate": 3, "clip": 0.1}
    full = engine.simulate(model, task.inputs, task.targets, **settings)
    lean = training_trace(model, task.inputs, task.targets, **settings)
    assert lean.loss == full.loss and lean.grad_norm == full.grad_norm
    assert lean.clip_scale == full.clip_scale < 1.0
    np.testing.assert_array_equal(lean.grad_hidden, full.grad_hidden)
    for name, value in full.clipped_grads.items():
        np.testing.assert_array_equal(lean.clipped_grads[name], value)
