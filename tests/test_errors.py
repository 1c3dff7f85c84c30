"""Every `ValueError` of the contract, and the valid edges next to them.

A bad argument raises `ValueError` whose message names the argument and the
value given; the message check is a plain substring test.
"""

import numpy as np
import pytest

import engine

STEPS, INPUT_SIZE, HIDDEN, OUTPUTS, BATCH = 5, 2, 3, 2, 4


def model_for(kind="rnn", **options):
    return engine.build(kind, INPUT_SIZE, HIDDEN, OUTPUTS, seed=0, **options)


def arrays(batch=None):
    """inputs (T, D) and targets (T, O), or (T, B, D) and (T, B, O)."""
    rng = np.random.default_rng(0)
    lead = (STEPS,) if batch is None else (STEPS, batch)
    return rng.normal(size=(*lead, INPUT_SIZE)), rng.normal(size=(*lead, OUTPUTS))


def assert_message_names(excinfo, *fragments):
    message = str(excinfo.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} missing from {message!r}"


# build ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["elman", "transformer"])
def test_unknown_kind(kind):
    with pytest.raises(ValueError) as excinfo:
        engine.build(kind, INPUT_SIZE, HIDDEN, OUTPUTS)
    assert_message_names(excinfo, "kind", kind)


@pytest.mark.parametrize("activation", ["softplus", "gelu"])
def test_unknown_activation(activation):
    with pytest.raises(ValueError) as excinfo:
        engine.build("rnn", INPUT_SIZE, HIDDEN, OUTPUTS, activation=activation)
    assert_message_names(excinfo, "activation", activation)


def test_bidirectional_jordan():
    with pytest.raises(ValueError) as excinfo:
        engine.build("jordan", INPUT_SIZE, HIDDEN, OUTPUTS, bidirectional=True)
    assert_message_names(excinfo, "bidirectional", "jordan")


@pytest.mark.parametrize("argument", ["input_size", "hidden_size", "output_size"])
@pytest.mark.parametrize("value", [0, -2])
def test_sizes_below_one(argument, value):
    sizes = {"input_size": INPUT_SIZE, "hidden_size": HIDDEN, "output_size": OUTPUTS}
    sizes[argument] = value
    with pytest.raises(ValueError) as excinfo:
        engine.build("rnn", **sizes)
    assert_message_names(excinfo, argument, str(value))


# simulate: options --------------------------------------------------------------


def test_unknown_loss():
    inputs, targets = arrays()
    with pytest.raises(ValueError) as excinfo:
        engine.simulate(model_for(), inputs, targets, loss="hinge")
    assert_message_names(excinfo, "loss", "hinge")


def test_unknown_scored():
    inputs, targets = arrays()
    with pytest.raises(ValueError) as excinfo:
        engine.simulate(model_for(), inputs, targets, scored="first")
    assert_message_names(excinfo, "scored", "first")


@pytest.mark.parametrize("truncate", [0, -1])
def test_truncate_below_one(truncate):
    inputs, targets = arrays()
    with pytest.raises(ValueError) as excinfo:
        engine.simulate(model_for(), inputs, targets, truncate=truncate)
    assert_message_names(excinfo, "truncate", str(truncate))


@pytest.mark.parametrize("clip", [0.0, -1.0])
def test_clip_not_positive(clip):
    inputs, targets = arrays()
    with pytest.raises(ValueError) as excinfo:
        engine.simulate(model_for(), inputs, targets, clip=clip)
    # "0" / "-1" also match "0.0" / "-1.0" and any other spelling of the value.
    assert_message_names(excinfo, "clip", str(int(clip)))


# simulate: shapes ---------------------------------------------------------------

SHAPE_CASES = [
    # (case id, model options, batch, argument, bad shape)
    ("inputs-features", {}, None, "inputs", (STEPS, INPUT_SIZE + 1)),
    ("inputs-1d", {}, None, "inputs", (STEPS,)),
    ("inputs-4d", {}, None, "inputs", (STEPS, BATCH, 1, INPUT_SIZE)),
    ("targets-outputs", {}, None, "targets", (STEPS, OUTPUTS + 1)),
    ("targets-steps", {}, None, "targets", (STEPS + 1, OUTPUTS)),
    ("targets-last-row-when-all", {}, None, "targets", (OUTPUTS,)),
    ("batch-inputs-features", {}, BATCH, "inputs", (STEPS, BATCH, INPUT_SIZE + 1)),
    ("batch-targets-batch", {}, BATCH, "targets", (STEPS, BATCH + 1, OUTPUTS)),
    ("batch-targets-unbatched", {}, BATCH, "targets", (STEPS, OUTPUTS)),
    ("h0-size", {}, None, "h0", (HIDDEN + 1,)),
    ("h0-two-rows-unidirectional", {}, None, "h0", (2, HIDDEN)),
    ("batch-h0-batch", {}, BATCH, "h0", (BATCH + 1, HIDDEN)),
    ("batch-h0-size", {}, BATCH, "h0", (BATCH, HIDDEN + 1)),
    ("batch-h0-directions-unidirectional", {}, BATCH, "h0", (2, BATCH, HIDDEN)),
    ("bidir-h0-three-rows", {"bidirectional": True}, None, "h0", (3, HIDDEN)),
    ("bidir-h0-size", {"bidirectional": True}, None, "h0", (2, HIDDEN + 1)),
    (
        "bidir-batch-h0-batch",
        {"bidirectional": True},
        BATCH,
        "h0",
        (2, BATCH + 1, HIDDEN),
    ),
    (
        "bidir-batch-h0-directions",
        {"bidirectional": True},
        BATCH,
        "h0",
        (3, BATCH, HIDDEN),
    ),
    (
        "bidir-batch-h0-size",
        {"bidirectional": True},
        BATCH,
        "h0",
        (2, BATCH, HIDDEN + 1),
    ),
    ("lstm-h0-with-cell", {"kind": "lstm"}, None, "h0", (2 * HIDDEN,)),
]


@pytest.mark.parametrize(
    ("options", "batch", "argument", "shape"),
    [case[1:] for case in SHAPE_CASES],
    ids=[case[0] for case in SHAPE_CASES],
)
def test_wrong_shape(options, batch, argument, shape):
    inputs, targets = arrays(batch)
    call = {"inputs": inputs, "targets": targets, "h0": None}
    call[argument] = np.zeros(shape)
    with pytest.raises(ValueError) as excinfo:
        engine.simulate(model_for(**options), **call)
    assert_message_names(excinfo, argument, str(shape))


def test_wrong_target_shape_with_scored_last():
    inputs, _ = arrays(BATCH)
    with pytest.raises(ValueError) as excinfo:
        engine.simulate(model_for(), inputs, np.zeros((BATCH + 1, OUTPUTS)), scored="last")
    assert_message_names(excinfo, "targets", str((BATCH + 1, OUTPUTS)))


# simulate: non-finite values ----------------------------------------------------


@pytest.mark.parametrize("argument", ["inputs", "targets", "h0"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("batch", [None, BATCH], ids=["single", "batch"])
def test_non_finite_value(argument, bad, batch):
    inputs, targets = arrays(batch)
    h0 = np.zeros(HIDDEN if batch is None else (batch, HIDDEN))
    call = {"inputs": inputs, "targets": targets, "h0": h0}
    poisoned = call[argument].copy()
    poisoned.flat[poisoned.size // 2] = bad
    call[argument] = poisoned
    with pytest.raises(ValueError) as excinfo:
        engine.simulate(model_for(), **call)
    assert_message_names(excinfo, argument)
    message = str(excinfo.value).lower()
    assert "finite" in message or "nan" in message or "inf" in message, message


# simulate: replaced parameters ------------------------------------------------


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("weight_hh", (2, 2)),
        ("weight_ih", (HIDDEN, INPUT_SIZE + 1)),
        ("bias_hh", (HIDDEN + 1,)),
        ("weight_out", (OUTPUTS, HIDDEN + 1)),
        ("bias_out", (OUTPUTS, 1)),
    ],
)
def test_replaced_parameter_of_wrong_shape(name, shape):
    model = model_for()
    model.params[name] = np.zeros(shape)
    inputs, targets = arrays()
    with pytest.raises(ValueError) as excinfo:
        engine.simulate(model, inputs, targets)
    assert_message_names(excinfo, name, str(shape))


def test_replaced_reverse_parameter_of_wrong_shape():
    model = model_for("gru", bidirectional=True)
    model.params["weight_hh_reverse"] = np.zeros((HIDDEN, HIDDEN))
    inputs, targets = arrays()
    with pytest.raises(ValueError) as excinfo:
        engine.simulate(model, inputs, targets)
    assert_message_names(excinfo, "weight_hh_reverse", str((HIDDEN, HIDDEN)))


def test_bidirectional_readout_needs_both_directions():
    model = model_for(bidirectional=True)
    model.params["weight_out"] = np.zeros((OUTPUTS, HIDDEN))
    inputs, targets = arrays()
    with pytest.raises(ValueError) as excinfo:
        engine.simulate(model, inputs, targets)
    assert_message_names(excinfo, "weight_out", str((OUTPUTS, HIDDEN)))


# valid edges ------------------------------------------------------------------


def test_truncate_longer_than_the_sequence_is_full_bptt():
    inputs, targets = arrays()
    model = model_for("gru")
    full = engine.simulate(model, inputs, targets)
    for truncate in [STEPS, STEPS + 1, 1000]:
        truncated = engine.simulate(model, inputs, targets, truncate=truncate)
        for name, grad in full.grads.items():
            np.testing.assert_allclose(
                truncated.grads[name],
                grad,
                rtol=1e-12,
                err_msg=f"{name}, truncate={truncate}",
            )


def test_truncate_one_is_accepted():
    inputs, targets = arrays()
    trace = engine.simulate(model_for(), inputs, targets, truncate=1)
    assert np.isfinite(trace.loss)


def test_a_tiny_positive_clip_is_accepted():
    inputs, targets = arrays()
    trace = engine.simulate(model_for(), inputs, targets, clip=1e-12)
    assert 0 < trace.clip_scale < 1


@pytest.mark.parametrize("batch", [None, BATCH], ids=["single", "batch"])
def test_a_single_step_sequence(batch):
    inputs, targets = arrays(batch)
    trace = engine.simulate(model_for("lstm"), inputs[:1], targets[:1])
    expected = (1, HIDDEN) if batch is None else (1, batch, HIDDEN)
    assert trace.hidden.shape == expected
    assert trace.state_jacobian_norm.shape == expected[:-1]


@pytest.mark.parametrize("batch", [None, BATCH], ids=["single", "batch"])
def test_scored_last_accepts_targets_without_the_time_axis(batch):
    """`(O,)` / `(B, O)` targets score the last step like a full `(T, …)` array."""
    inputs, targets = arrays(batch)
    model = model_for()
    full = engine.simulate(model, inputs, targets, scored="last")
    last_only = engine.simulate(model, inputs, targets[-1], scored="last")
    assert last_only.loss == pytest.approx(full.loss, rel=1e-14)
    for name, grad in full.grads.items():
        np.testing.assert_allclose(last_only.grads[name], grad, rtol=1e-14, err_msg=name)


@pytest.mark.parametrize(
    ("options", "batch", "shape"),
    [
        ({}, None, (HIDDEN,)),
        ({}, BATCH, (HIDDEN,)),
        ({}, BATCH, (BATCH, HIDDEN)),
        ({"bidirectional": True}, None, (HIDDEN,)),
        ({"bidirectional": True}, None, (2, HIDDEN)),
        ({"bidirectional": True}, BATCH, (HIDDEN,)),
        ({"bidirectional": True}, BATCH, (BATCH, HIDDEN)),
        ({"bidirectional": True}, BATCH, (2, BATCH, HIDDEN)),
    ],
)
def test_every_h0_shape_of_the_contract_is_accepted(options, batch, shape):
    inputs, targets = arrays(batch)
    trace = engine.simulate(model_for(**options), inputs, targets, h0=np.full(shape, 0.5))
    assert np.isfinite(trace.loss)
