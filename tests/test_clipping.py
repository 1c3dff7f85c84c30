"""Global gradient-norm clipping against the contract's formula.

`n = sqrt(Σ‖g‖²)` over every parameter, `scale = min(1, θ/(n + 1e-6))`,
clipped `= g·scale`; computed here from `trace.grads`.
"""

import numpy as np
import pytest

import engine

CASES = [
    # (kind, build options, batch)
    ("rnn", {}, None),
    ("gru", {}, 3),
    ("lstm", {"bidirectional": True}, None),
    ("jordan", {}, 2),
]
CASE_IDS = ["rnn", "gru-batch", "lstm-bidir", "jordan-batch"]


def run(kind, options, batch, **simulate_options):
    """Simulate a small seeded case; inputs (6, D) or (6, B, D)."""
    model = engine.build(kind, 2, 3, 2, seed=4, **options)
    rng = np.random.default_rng(8)
    lead = (6,) if batch is None else (6, batch)
    inputs, targets = rng.normal(size=(*lead, 2)), 3 * rng.normal(size=(*lead, 2))
    return engine.simulate(model, inputs, targets, **simulate_options)


def global_norm(grads):
    """sqrt of the sum of squares over every array of a params-like dict."""
    return float(np.sqrt(sum(np.sum(g**2) for g in grads.values())))


@pytest.mark.parametrize(("kind", "options", "batch"), CASES, ids=CASE_IDS)
def test_grad_norm_is_the_global_l2_norm(kind, options, batch):
    trace = run(kind, options, batch)
    assert trace.grad_norm == pytest.approx(global_norm(trace.grads), rel=1e-12)
    assert trace.grad_norm > 0


@pytest.mark.parametrize(("kind", "options", "batch"), CASES, ids=CASE_IDS)
@pytest.mark.parametrize("fraction", [0.01, 0.5, 1.0, 2.0, 100.0])
def test_clipping_follows_the_formula(kind, options, batch, fraction):
    """θ = fraction·n; at fraction 1 the 1e-6 still scales just below 1."""
    norm = global_norm(run(kind, options, batch).grads)
    threshold = fraction * norm
    trace = run(kind, options, batch, clip=threshold)

    expected_scale = min(1.0, threshold / (norm + 1e-6))
    assert trace.clip_scale == pytest.approx(expected_scale, rel=1e-12)
    assert trace.grad_norm == pytest.approx(norm, rel=1e-12)
    assert set(trace.clipped_grads) == set(trace.grads)
    for name, grad in trace.grads.items():
        np.testing.assert_allclose(
            trace.clipped_grads[name],
            grad * expected_scale,
            rtol=1e-12,
            atol=1e-15 * norm,
            err_msg=name,
        )
    assert global_norm(trace.clipped_grads) == pytest.approx(
        min(norm, threshold * norm / (norm + 1e-6)), rel=1e-12
    )


@pytest.mark.parametrize(("kind", "options", "batch"), CASES, ids=CASE_IDS)
def test_clipping_does_not_change_grads(kind, options, batch):
    unclipped = run(kind, options, batch)
    clipped = run(kind, options, batch, clip=0.1 * unclipped.grad_norm)
    assert clipped.clip_scale < 0.2
    for name, grad in unclipped.grads.items():
        np.testing.assert_array_equal(clipped.grads[name], grad, err_msg=name)
    assert clipped.grad_norm == unclipped.grad_norm
    assert clipped.loss == unclipped.loss


@pytest.mark.parametrize(("kind", "options", "batch"), CASES, ids=CASE_IDS)
def test_without_clip_the_scale_is_one(kind, options, batch):
    trace = run(kind, options, batch, clip=None)
    assert trace.clip_scale == 1.0
    for name, grad in trace.grads.items():
        np.testing.assert_array_equal(trace.clipped_grads[name], grad, err_msg=name)


def test_a_threshold_above_the_norm_leaves_the_scale_at_exactly_one():
    norm = run("rnn", {}, None).grad_norm
    trace = run("rnn", {}, None, clip=10 * norm)
    assert trace.clip_scale == 1.0
