"""The lab's presets: one click sets every control, one sentence says what to watch."""

from __future__ import annotations

from dataclasses import dataclass

from app.lab.state import LabSettings


@dataclass(frozen=True)
class LabPreset:
    settings: LabSettings
    look_at: str
    tab: str = "Training"


LAB_PRESETS: dict[str, LabPreset] = {
    "Elman cannot carry the sum 50 steps; LSTM and GRU can": LabPreset(
        LabSettings(),
        "Adding task, T = 50, Adam 0.01, clipping at 1. Watch the loss chart: the "
        "Elman line stays on the baseline while the GRU and then the LSTM drop "
        "below it, and the lag map shows why: the Elman gradient never reaches back.",
    ),
    "Explosion without clipping, tamed with it": LabPreset(
        LabSettings(
            cells=("rnn",),
            optimizer="sgd",
            lr=0.1,
            spectral_radius=2.0,
            clip=1.0,
            contrast="clip",
            updates=300,
        ),
        "A tanh Elman network with ρ(W_hh) = 2, plain SGD at 0.1, trained twice on the "
        "same batches: the dashed line without clipping, the solid one clipped at θ = 1. "
        "Watch the gradient norm spike and the unclipped loss leave the chart.",
    ),
    "Weight decay keeps ρ below 1": LabPreset(
        LabSettings(
            cells=("rnn",),
            activation="relu",
            steps=100,
            clip=None,
            weight_decay=1e-3,
            contrast="decay",
            seed_count=3,
            updates=1000,
        ),
        "A ReLU Elman network on the adding task, T = 100, three seeds, no clipping, "
        "trained with weight decay λ = 10⁻³ (solid) and without it (dotted). Watch the "
        "spectral radius: without decay it climbs past 1 and the loss explodes.",
    ),
    "IRNN: identity start, ReLU and clipping (Le et al. 2015)": LabPreset(
        LabSettings(
            cells=("rnn",),
            init="identity",
            activation="relu",
            optimizer="sgd",
            lr=0.01,
            clip=1.0,
            updates=1500,
        ),
        "W_hh starts as the identity, so ρ = 1 and a ReLU passes the gradient back "
        "unchanged at first: watch the lag map stay bright far back.",
    ),
    "Jumping off the cliff": LabPreset(
        LabSettings(cliff_w=6.0, cliff_b=-3.23475499349, cliff_lr=1.0, cliff_clip=1.0),
        "Start on the face of the cliff: the plain step is thrown far across the "
        "surface, the clipped one moves by at most θ. Press play under the chart.",
        tab="The cliff",
    ),
}


def matching_lab_preset(settings: LabSettings) -> str | None:
    """The preset these settings are (display fields aside), if any."""
    plain = settings.replace(projector=False, theme="light")
    for name, preset in LAB_PRESETS.items():
        if preset.settings == plain:
            return name
    return None
