"""The charts made of many runs (the in-chart slider's frames, the phase
diagram's columns) run their models stacked: each frame and column must be
the one its own run gives, bit for bit."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app import compute, sweeps  # noqa: E402
from app.compute import cell_spec  # noqa: E402
from app.explorer.state import Settings  # noqa: E402
from app.links import CELL_KINDS  # noqa: E402

SMALL = Settings(hidden_size=3, seq_len=8)
SETTINGS = {
    "plain": SMALL,
    "bidirectional-clipped-truncated": SMALL.replace(bidirectional=True, clip=0.05, truncation=3),
    "single-unit": SMALL.replace(hidden_size=1, activation="linear"),
    "many-to-many-noise": SMALL.replace(setup="many_to_many", signal="noise"),
}


def frame_alone(spec, knob, value):
    trace = compute.run_cell(spec.replace(**{knob: value})).trace
    return sweeps.frame_norms(trace, activation=spec.activation)


@pytest.mark.parametrize("label", SETTINGS)
@pytest.mark.parametrize("kind", CELL_KINDS)
def test_stacked_frames_are_the_single_runs(label, kind):
    settings = SETTINGS[label]
    if kind == "jordan" and settings.bidirectional:
        settings = settings.replace(bidirectional=False)
    spec = cell_spec(settings, kind)
    spec = spec.replace(spectral_radius=None, recurrent_matrix=None)
    values = sweeps.scrub_values(spec)[::8]
    frames = sweeps.knob_frames(spec, values)
    knob = sweeps.knob_name(spec)
    for v, value in enumerate(values):
        alone = frame_alone(spec, knob, float(value))
        for j in range(sweeps.FRAME_PARTS):  # the norms, and f̄′ for the reference line
            np.testing.assert_array_equal(frames[j][v], alone[j])


@pytest.mark.parametrize("label", ["plain", "single-unit", "many-to-many-noise"])
@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_stacked_phase_columns_are_the_single_runs(label, kind):
    spec = cell_spec(SETTINGS[label], kind)
    radii = sweeps.PHASE_RADII[::6]
    columns = sweeps.phase_columns(spec, radii)
    for radius, (logs, overflow) in zip(radii, columns, strict=True):
        one = sweeps._at_radius(spec, float(radius))
        alone_logs, alone_overflow = sweeps._phase_alone(one)
        np.testing.assert_array_equal(logs, alone_logs)
        np.testing.assert_array_equal(overflow, alone_overflow)


def test_stacks_are_split_to_fit_the_memory_budget():
    spec = cell_spec(Settings(hidden_size=64, seq_len=1000), "lstm")
    sizes = sweeps.stack_sizes(spec, 41)
    assert sum(sizes) == 41 and 1 < len(sizes) < 41 and max(sizes) - min(sizes) <= 1
    assert max(sizes) * 1000 * 4 * 64 <= sweeps.STACK_BUDGET
    assert sweeps.stack_sizes(cell_spec(SMALL, "rnn"), 41) == [41]
