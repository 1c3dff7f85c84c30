"""engine.tasks: shapes, seeds, what the targets mean, and the baselines."""

import numpy as np
import pytest

import engine
from engine import tasks

SMALL = {"adding": {}, "copy": {"length": 3, "symbols": 4}, "sine": {}, "text": {}}


@pytest.mark.parametrize("name", tasks.TASKS)
def test_shapes_and_the_seed_reproduces_the_arrays(name):
    T, B = 9, 5
    task = tasks.make(name, T, B, seed=3, **SMALL[name])
    assert isinstance(task, engine.Task) and task.name == name
    assert task.inputs.shape[:2] == (T, B) and task.inputs.dtype == np.float64
    if task.scored == "last":
        assert task.targets.shape[0] == B
    else:
        assert task.targets.shape[:2] == (T, B)
    again = tasks.make(name, T, B, seed=3, **SMALL[name])
    other = tasks.make(name, T, B, seed=4, **SMALL[name])
    np.testing.assert_array_equal(again.inputs, task.inputs)
    np.testing.assert_array_equal(again.targets, task.targets)
    assert not np.array_equal(other.inputs, task.inputs)
    model = engine.build("gru", task.inputs.shape[-1], 2, task.targets.shape[-1])
    assert np.isfinite(engine.simulate(model, task.inputs, task.targets, loss=task.loss,
                                       scored=task.scored).loss)  # fmt: skip


def test_adding_target_is_the_sum_of_the_two_marked_values():
    T, B = 11, 200
    task = tasks.make("adding", T, B, seed=1)
    assert task.inputs.shape == (T, B, 2) and task.targets.shape == (B, 1)
    values, markers = task.inputs[..., 0], task.inputs[..., 1]
    assert set(np.unique(markers)) == {0.0, 1.0}
    half = (T + 1) // 2
    np.testing.assert_array_equal(markers[:half].sum(axis=0), 1.0)
    np.testing.assert_array_equal(markers[half:].sum(axis=0), 1.0)
    np.testing.assert_allclose(task.targets[:, 0], (values * markers).sum(axis=0), rtol=1e-15)
    assert values.min() >= 0.0 and values.max() < 1.0
    assert (task.loss, task.scored, task.baseline) == ("mse", "last", 1.0 / 12.0)


def test_copy_targets_repeat_the_first_symbols_after_the_delimiter():
    T, B, length, symbols = 12, 30, 3, 4
    task = tasks.make("copy", T, B, seed=2, length=length, symbols=symbols)
    seen, wanted = task.inputs.argmax(-1), task.targets.argmax(-1)
    np.testing.assert_array_equal(task.inputs.sum(-1), 1.0)  # one-hot
    np.testing.assert_array_equal(task.targets.sum(-1), 1.0)
    assert ((seen[:length] >= 1) & (seen[:length] <= symbols)).all()
    np.testing.assert_array_equal(seen[T - length - 1], symbols + 1)  # the delimiter
    np.testing.assert_array_equal(seen[length : T - length - 1], 0)  # blanks
    np.testing.assert_array_equal(wanted[T - length :], seen[:length])
    np.testing.assert_array_equal(wanted[: T - length], 0)
    assert (task.loss, task.scored) == ("cross_entropy", "all")


def test_sine_targets_are_the_next_input():
    task = tasks.make("sine", 20, 6, seed=0, period=(5.0, 9.0), amplitude=2.0)
    np.testing.assert_allclose(task.targets[:-1], task.inputs[1:], rtol=0, atol=1e-12)
    assert np.abs(task.inputs).max() <= 2.0 and np.abs(task.inputs).max() > 1.5
    noisy = tasks.make("sine", 20, 6, seed=0, period=(5.0, 9.0), amplitude=2.0, noise=0.1)
    np.testing.assert_array_equal(noisy.targets, task.targets)  # noise on the inputs only
    assert not np.array_equal(noisy.inputs, task.inputs)


def test_text_targets_are_the_next_character_of_the_text():
    task = tasks.make("text", 25, 8, seed=5)
    vocabulary = tasks.text_vocabulary()
    assert task.inputs.shape == (25, 8, len(vocabulary))
    np.testing.assert_array_equal(task.targets[:-1], task.inputs[1:])
    for b in range(8):
        window = "".join(vocabulary[i] for i in task.inputs[:, b].argmax(-1))
        window += vocabulary[task.targets[-1, b].argmax()]
        assert window in tasks.TEXT


def _best_constant_loss(task):
    """L of the best input-free answer, estimated from this (large) batch."""
    targets = task.targets if task.scored == "all" else task.targets[None]
    best = targets.mean(axis=1, keepdims=True)  # per step: the mean / the frequencies
    if task.loss == "mse":
        per_step = 0.5 * ((best - targets) ** 2).sum(-1)
    else:
        per_step = -(targets * np.log(np.where(best > 0, best, 1.0))).sum(-1)
    return per_step.sum(axis=0).mean()


@pytest.mark.parametrize(
    ("name", "steps", "options"),
    [
        ("adding", 10, {}),
        ("copy", 9, {"length": 2, "symbols": 5}),
        ("sine", 6, {"period": (4.0, 12.0), "amplitude": 0.5}),
        ("text", 12, {}),
    ],
)
def test_baseline_is_the_loss_of_the_best_constant_answer(name, steps, options):
    task = tasks.make(name, steps, 10_000, seed=7, **options)
    estimate = _best_constant_loss(task)
    assert task.baseline == pytest.approx(estimate, rel=0.02)
    # The answer a model gives when its readout is the best constant does no better.
    if name == "adding":
        assert 0.5 * np.mean((1.0 - task.targets) ** 2) == pytest.approx(1 / 12, rel=0.02)


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: tasks.make("parity", 5, 2), "name"),
        (lambda: tasks.make("adding", 0, 2), "steps"),
        (lambda: tasks.make("adding", 1, 2), "steps"),
        (lambda: tasks.make("adding", 5, 2.5), "batch"),
        (lambda: tasks.make("adding", 5, 2, seed="x"), "seed"),
        (lambda: tasks.make("adding", 5, 2, length=3), "options"),
        (lambda: tasks.make("copy", 6, 2, length=3), "steps"),
        (lambda: tasks.make("sine", 6, 2, period=-1.0), "period"),
        (lambda: tasks.make("sine", 6, 2, noise=-0.1), "noise"),
        (lambda: tasks.make("text", 10_000, 2), "steps"),
    ],
)
def test_bad_arguments_raise_naming_them(call, argument):
    with pytest.raises(ValueError, match=rf"^{argument} "):
        call()
