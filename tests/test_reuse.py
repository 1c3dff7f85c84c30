"""`engine.simulate(..., reuse=trace)`: the forward steps an earlier run shares
are copied from it, the result is the same bit for bit, and a run that does
not fit is not used."""

import dataclasses

import numpy as np
import pytest

import engine

INPUT_SIZE, HIDDEN, OUTPUTS, LONGEST = 2, 3, 2, 8
CONFIGS = {
    "rnn": ("rnn", {}),
    "jordan": ("jordan", {}),
    "gru-reset-before": ("gru", {"reset_after": False}),
    "gru-reset-after": ("gru", {"reset_after": True}),
    "mgu": ("mgu", {}),
    "lstm": ("lstm", {}),
    "lstm-no-forget": ("lstm", {"forget_gate": False}),
    "lstm-bidir": ("lstm", {"bidirectional": True}),
    "gru-bidir": ("gru", {"bidirectional": True}),
}
MARK = 7.0  # written into an earlier trace's hidden states: where it shows, they were copied
TRACE_ARRAYS = ("hidden", "hidden_reverse", "cell", "cell_reverse", "outputs")
TRACE_ARRAYS += ("grad_hidden", "grad_hidden_reverse", "grad_cell", "grad_cell_reverse")


def model_for(label, **options):
    kind, config = CONFIGS[label]
    return engine.build(kind, INPUT_SIZE, HIDDEN, OUTPUTS, seed=4, **{**config, **options})


def sequence(batch=None, seed=0):
    rng = np.random.default_rng(seed)
    shape = (LONGEST, INPUT_SIZE) if batch is None else (LONGEST, batch, INPUT_SIZE)
    return rng.standard_normal(shape), rng.standard_normal((*shape[:-1], OUTPUTS))


def assert_same_trace(actual, expected):
    for name in TRACE_ARRAYS:
        a, e = getattr(actual, name), getattr(expected, name)
        assert (a is None) == (e is None), name
        if e is not None:
            np.testing.assert_array_equal(a, e, err_msg=name)
    for field in ("gates", "gates_reverse", "grads", "clipped_grads"):
        a, e = getattr(actual, field), getattr(expected, field)
        assert (a is None) == (e is None), field
        for key in e or {}:
            np.testing.assert_array_equal(a[key], e[key], err_msg=f"{field}[{key}]")
    for field in ("loss", "grad_norm", "clip_scale", "nonfinite_forward", "nonfinite_backward"):
        assert getattr(actual, field) == getattr(expected, field), field
    np.testing.assert_array_equal(actual.state_jacobian_norm, expected.state_jacobian_norm)


@pytest.mark.parametrize("label", CONFIGS)
@pytest.mark.parametrize("batch", [None, 2])
@pytest.mark.parametrize(("before", "after"), [(5, 8), (8, 5), (6, 6)])
def test_a_run_with_another_T_gives_the_same_trace(label, batch, before, after):
    model = model_for(label)
    x, y = sequence(batch)
    options = {"loss": "mse", "scored": "last", "truncate": 3, "clip": 0.5}
    earlier = engine.simulate(model, x[:before], y[:before], **options)
    reused = engine.simulate(model, x[:after], y[:after], reuse=earlier, **options)
    assert_same_trace(reused, engine.simulate(model, x[:after], y[:after], **options))


@pytest.mark.parametrize("label", CONFIGS)
def test_the_shared_steps_are_copied_and_the_rest_computed(label):
    model = model_for(label)
    x, y = sequence()
    changed = x.copy()
    changed[5] += 1.0  # the forward direction shares steps 0-4 with the earlier run
    earlier = engine.simulate(model, x, y)
    earlier.hidden[:] = MARK
    reused = engine.simulate(model, changed, y, reuse=earlier)
    np.testing.assert_array_equal(reused.hidden[:5], MARK)
    assert not np.any(reused.hidden[5:] == MARK)  # computed (from the marked state)


def test_a_reverse_direction_reuses_when_its_own_first_inputs_are_shared():
    model = model_for("gru-bidir")
    x, y = sequence()
    changed = x.copy()
    changed[0] += 1.0  # the reverse direction reads it last
    earlier = engine.simulate(model, x, y)
    # hidden_reverse is a copy in time order; mark the sweep's own record
    earlier._jacobian_sources[1][1]["hidden"][:] = MARK
    reused = engine.simulate(model, changed, y, reuse=earlier)
    np.testing.assert_array_equal(reused.hidden_reverse[1:], MARK)  # time order
    assert not np.any(reused.hidden_reverse[0] == MARK)


UNFIT = {
    "another parameter value": lambda m: dataclasses.replace(
        m, params={**m.params, "weight_hh": m.params["weight_hh"] * 1.5}
    ),
    "another activation": lambda m: dataclasses.replace(m, activation="relu"),
    "another hidden size": lambda m: engine.build("lstm", INPUT_SIZE, HIDDEN + 1, OUTPUTS, seed=4),
}


@pytest.mark.parametrize("change", UNFIT)
def test_a_run_that_does_not_fit_is_not_used(change):
    model = model_for("lstm")
    x, y = sequence()
    earlier = engine.simulate(model, x, y)
    earlier.hidden[:] = MARK
    other = UNFIT[change](model)
    reused = engine.simulate(other, x, y, reuse=earlier)
    assert_same_trace(reused, engine.simulate(other, x, y))


def test_another_initial_state_batch_size_or_jordan_loss_is_not_used():
    x, y = sequence()
    model = model_for("rnn")
    earlier = engine.simulate(model, x, y)
    earlier.hidden[:] = MARK
    h0 = np.full(HIDDEN, 0.5)
    assert_same_trace(
        engine.simulate(model, x, y, h0=h0, reuse=earlier), engine.simulate(model, x, y, h0=h0)
    )
    xb, yb = sequence(batch=2)
    assert_same_trace(engine.simulate(model, xb, yb, reuse=earlier), engine.simulate(model, xb, yb))
    jordan = model_for("jordan")
    earlier = engine.simulate(jordan, x, y, loss="mse")
    earlier.hidden[:] = MARK
    assert_same_trace(
        engine.simulate(jordan, x, y, loss="bce", reuse=earlier),
        engine.simulate(jordan, x, y, loss="bce"),
    )


def test_changing_the_callers_arrays_afterwards_cannot_fool_it():
    model = model_for("gru-reset-before")
    x, y = sequence()
    h0 = np.zeros(HIDDEN)
    earlier = engine.simulate(model, x, y, h0=h0)
    earlier.hidden[:] = MARK
    x[0] += 1.0
    h0 += 0.25
    model.params["weight_hh"][0, 0] += 0.5
    reused = engine.simulate(model, x, y, h0=h0, reuse=earlier)
    assert_same_trace(reused, engine.simulate(model, x, y, h0=h0))


def test_reuse_must_be_a_trace():
    model = model_for("rnn")
    x, y = sequence()
    with pytest.raises(ValueError, match="reuse must be None or a Trace"):
        engine.simulate(model, x, y, reuse={"hidden": x})
