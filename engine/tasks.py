"""Training tasks: batches of sequences drawn from a seed.

    task = engine.tasks.make(name, steps, batch, *, seed=0, **options)

``steps`` is T, the length of every sequence, ``batch`` B the number of
sequences; the same name, sizes, seed and options give the same arrays. The
``Task`` says how ``simulate`` scores it (``loss``, ``scored``) and what
learning nothing scores (``baseline``): the loss L, under the contract's
conventions (L_t summed over the scored steps, averaged over the batch), of
the best answer that ignores the inputs, one fixed y_t for each scored step,
the same for every sequence. It is the expected value over the task's
distribution, exact, not an estimate from this batch.

Tasks and their options:

- ``"adding"`` (Hochreiter & Schmidhuber 1997, as in Le et al. 2015): inputs
  (T, B, 2), channel 0 values uniform in [0, 1), channel 1 the markers, 1 at
  one step of each half (t < ⌈T/2⌉ and t ≥ ⌈T/2⌉), 0 elsewhere; targets
  (B, 1) the sum of the two marked values; mse, scored "last". Baseline 1/12:
  always answering 1 leaves ½·Var(u₁ + u₂) = ½·(2/12). No options; T ≥ 2.
- ``"copy"`` (Arjovsky et al. 2016): ``length`` symbols (default 10) drawn from
  ``symbols`` (default 8) categories, then a blank stretch, a delimiter at
  step T − length − 1, and the same symbols to be reproduced over the last
  ``length`` steps. One-hot inputs and targets (T, B, symbols + 2), category 0
  the blank, 1 … symbols the data, symbols + 1 the delimiter; the targets are
  blank except over the last ``length`` steps. Cross-entropy, scored "all";
  T ≥ 2·length + 1 (Arjovsky's delay is T − 2·length). Baseline
  length·ln(symbols): blank where it is certain, a uniform guess at the end.
- ``"sine"``: next-step prediction, many-to-many. Inputs (T, B, 1)
  x_t = A·sin(2πt/P + φ) (+ noise), targets (T, B, 1) the clean next value
  A·sin(2π(t + 1)/P + φ); φ uniform in [0, 2π) per sequence. Options
  ``amplitude`` A (default 1.0), ``period`` P in steps (default 16.0; or a pair
  (low, high) to draw each sequence's P uniformly), ``noise`` (default 0.0: the
  standard deviation of Gaussian noise added to the inputs only). Mse, scored
  "all". Baseline T·A²/4: the best fixed answer is 0 at every step.
- ``"text"``: the next character of a text (``text``, default ``TEXT``, a short
  paragraph on gradients written for this project). Each sequence is a window
  of T + 1 characters at a uniformly drawn offset; inputs (T, B, V) one-hot of
  characters 0 … T − 1, targets (T, B, V) one-hot of characters 1 … T, V the
  number of distinct characters (``text_vocabulary``, sorted). Cross-entropy
  (softmax: the notes' canonical link), scored "all"; T < len(text). Baseline:
  Σ_t H(q_t), q_t the distribution of the character at step t + 1 over the
  offsets (the text's character frequencies, seen through the window).
"""

import math
import numbers
from dataclasses import dataclass

import numpy as np

TASKS = ("adding", "copy", "sine", "text")

TEXT = (
    "a gradient is a promise about a small change. move a weight a little and "
    "the loss moves by the gradient times that little. in a recurrent network "
    "the same weights act at every step, so the promise is made again and again, "
    "and the message from the loss must travel back through every step it came "
    "from. at each step it is multiplied by the same matrix. when that matrix "
    "shrinks what it touches, the message fades, and the early steps never hear "
    "about the loss: the network cannot learn what happened long ago. when it "
    "stretches, the message grows until it is too loud to use, and one update "
    "throws the weights far away. clipping turns the volume down, gates keep a "
    "path open along which the message neither fades nor grows, and patience "
    "does the rest."
)


@dataclass(frozen=True, eq=False)
class Task:
    """One batch of a training task (see the module's docstring for each task).

    inputs:   (T, B, D).
    targets:  (T, B, O), or (B, O) when scored="last".
    scored:   "all" or "last", as ``simulate`` takes it.
    loss:     "mse", "bce" or "cross_entropy", as ``simulate`` takes it.
    baseline: L of the best answer that ignores the inputs (what learning nothing scores).
    name:     the task's name.
    """

    inputs: np.ndarray
    targets: np.ndarray
    scored: str
    loss: str
    baseline: float
    name: str


def text_vocabulary(text=TEXT):
    """The distinct characters of ``text``, sorted: category v is the v-th."""
    return "".join(sorted(set(text)))


def make(name, steps, batch, *, seed=0, **options):
    """A ``Task`` of ``batch`` sequences of ``steps`` steps, drawn from ``seed``.

    name: one of ``TASKS``; options: the task's own (module docstring). Raises
    ValueError naming the argument for an unknown name or option, sizes that
    are not whole numbers ≥ 1 or too short for the task, or a bad option value.
    """
    if name not in TASKS:
        raise ValueError(f"name must be one of {', '.join(map(repr, TASKS))}, got {name!r}")
    T = _whole("steps", steps)
    B = _whole("batch", batch)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    maker, allowed = _MAKERS[name]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(
            f"options for task {name!r} are {', '.join(allowed) or 'none'}; "
            f"got unknown option {unknown[0]!r}"
        )
    rng = np.random.default_rng(int(seed))
    return maker(T, B, rng, **options)


def _whole(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be a whole number ≥ {minimum}, got {value!r}")
    return int(value)


def _number(name, value, minimum=None, positive=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if positive and not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be ≥ {minimum}, got {value!r}")
    return float(value)


def _one_hot(indices, categories):
    """indices (...) of ints → (..., categories) float64 one-hot."""
    return np.eye(categories)[indices]


def _adding(T, B, rng):
    if T < 2:
        raise ValueError(f"steps must be ≥ 2 for the adding task (a marker in each half), got {T}")
    half = (T + 1) // 2
    values = rng.uniform(0.0, 1.0, size=(T, B))
    first = rng.integers(0, half, size=B)
    second = rng.integers(half, T, size=B)
    markers = np.zeros((T, B))
    columns = np.arange(B)
    markers[first, columns] = 1.0
    markers[second, columns] = 1.0
    inputs = np.stack([values, markers], axis=-1)
    targets = (values[first, columns] + values[second, columns])[:, None]
    return Task(inputs, targets, "last", "mse", 1.0 / 12.0, "adding")


def _copy(T, B, rng, symbols=8, length=10):
    symbols = _whole("symbols", symbols)
    length = _whole("length", length)
    if 2 * length + 1 > T:
        raise ValueError(
            f"steps must be ≥ 2·length + 1 = {2 * length + 1} for the copy task "
            f"(length = {length}), got {T}"
        )
    categories = symbols + 2
    data = rng.integers(1, symbols + 1, size=(length, B))
    seen = np.zeros((T, B), dtype=np.intp)
    seen[:length] = data
    seen[T - length - 1] = symbols + 1  # the delimiter: "now repeat them"
    wanted = np.zeros((T, B), dtype=np.intp)
    wanted[T - length :] = data
    baseline = length * math.log(symbols)
    return Task(
        _one_hot(seen, categories), _one_hot(wanted, categories), "all", "cross_entropy",
        baseline, "copy",
    )  # fmt: skip


def _sine(T, B, rng, amplitude=1.0, period=16.0, noise=0.0):
    amplitude = _number("amplitude", amplitude)
    noise = _number("noise", noise, minimum=0.0)
    if isinstance(period, tuple | list):
        if len(period) != 2:
            raise ValueError(f"period must be a number or a pair (low, high), got {period!r}")
        low = _number("period[0]", period[0], positive=True)
        high = _number("period[1]", period[1], positive=True)
        if high < low:
            raise ValueError(f"period must have low ≤ high, got {period!r}")
        periods = rng.uniform(low, high, size=B)
    else:
        periods = np.full(B, _number("period", period, positive=True))
    phase = rng.uniform(0.0, 2.0 * np.pi, size=B)
    t = np.arange(T + 1)[:, None]
    wave = amplitude * np.sin(2.0 * np.pi * t / periods + phase)  # (T + 1, B)
    inputs = wave[:-1].copy()
    if noise:
        inputs += noise * rng.standard_normal((T, B))
    baseline = T * amplitude**2 / 4.0
    return Task(inputs[..., None], wave[1:, :, None], "all", "mse", baseline, "sine")


def _text(T, B, rng, text=TEXT):
    if not isinstance(text, str):
        raise ValueError(f"text must be a string, got {type(text).__name__}")
    if len(text) <= T:
        raise ValueError(
            f"steps must be < len(text) = {len(text)} for the text task "
            f"(a window of steps + 1 characters), got {T}"
        )
    vocabulary = text_vocabulary(text)
    codes = np.array([vocabulary.index(c) for c in text], dtype=np.intp)
    offsets = len(text) - T  # windows text[s : s + T + 1], s = 0 … offsets − 1
    starts = rng.integers(0, offsets, size=B)
    window = codes[starts[None, :] + np.arange(T + 1)[:, None]]  # (T + 1, B)
    V = len(vocabulary)
    # Over the offsets, step t's target is text[s + t + 1]: sliding counts of each character.
    counts = np.zeros((len(text) + 1, V))
    counts[1:] = np.cumsum(_one_hot(codes, V), axis=0)
    rows = np.arange(T) + 1
    seen = counts[rows + offsets] - counts[rows]  # (T, V): characters s + t + 1 over s
    q = seen / offsets
    entropy = -np.sum(np.where(q > 0, q * np.log(np.where(q > 0, q, 1.0)), 0.0), axis=1)
    return Task(
        _one_hot(window[:-1], V), _one_hot(window[1:], V), "all", "cross_entropy",
        float(entropy.sum()), "text",
    )  # fmt: skip


_MAKERS = {
    "adding": (_adding, ()),
    "copy": (_copy, ("symbols", "length")),
    "sine": (_sine, ("amplitude", "period", "noise")),
    "text": (_text, ("text",)),
}
