"""The training lab's figures: drawing only, from a run's history.

Each function takes what it draws (a ``Training``'s histories, a cliff
surface and its descents) and returns a Plotly figure; the words beside them
come from ``app.lab.words``.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from app.charts import labelled_hline, log_axis, themed
from app.explorer.views.common import colour
from app.lab.cliff import Descents, Surface
from app.lab.training import LOSS_CAP, Line, Training

DASHES = {None: "solid", "clip": "dash", "decay": "dot"}
PLAIN_PATH = "#D55E00"
CLIPPED_PATH = "#0072B2"


def _line_style(line: Line, seed_index: int) -> dict:
    return {
        "color": colour(line.kind),
        "width": 2.5 if seed_index == 0 else 1.5,
        "dash": DASHES[line.without],
    }


def _per_seed(run: Training, line: Line, name: str):
    values = run.history[line].array(name)  # (U, S)
    for s, seed in enumerate(run.seeds):
        label = line.name if len(run.seeds) == 1 else f"{line.name} (seed {seed})"
        yield s, label, values[:, s] if values.size else values


def loss_figure(run: Training) -> go.Figure:
    fig = go.Figure()
    for line in run.history:
        kept = run.history[line]
        updates, validated_at = kept.array("updates"), kept.array("validated_at")
        for s, label, losses in _per_seed(run, line, "loss"):
            fig.add_scatter(
                x=updates,
                y=np.minimum(losses, LOSS_CAP),
                name=f"{label}: training batch",
                mode="lines",
                line={**_line_style(line, s), "width": 1},
                opacity=0.45,
                legendgroup=label,
                showlegend=False,
            )
            validation = np.array(kept.validation)
            if validation.size:
                fig.add_scatter(
                    x=validated_at,
                    y=np.minimum(validation[:, s], LOSS_CAP),
                    name=label,
                    mode="lines+markers",
                    marker={"size": 5},
                    line=_line_style(line, s),
                    legendgroup=label,
                )
    baseline = run.validation.baseline
    labelled_hline(
        fig,
        baseline,
        f"learned nothing: {baseline:.3g}",
        line={"color": "#555555", "dash": "dot", "width": 2},
        log=True,
    )
    themed(fig, title="Loss over updates (validation: 512 held-out sequences)")
    fig.update_xaxes(title_text="update")
    fig.update_yaxes(title_text="loss L (log scale)", **log_axis())
    return fig


def grad_norm_figure(run: Training) -> go.Figure:
    fig = go.Figure()
    for line in run.history:
        kept = run.history[line]
        scales, updates = kept.array("clip_scale"), kept.array("updates")
        for s, label, norms in _per_seed(run, line, "grad_norm"):
            fig.add_scatter(
                x=updates,
                y=norms,
                name=label,
                mode="lines",
                line=_line_style(line, s),
            )
            if scales.size:
                clipped = np.flatnonzero(scales[:, s] < 1.0)
                if clipped.size:
                    fig.add_scatter(
                        x=updates[clipped],
                        y=norms[clipped],
                        name=f"{label}: clipped",
                        mode="markers",
                        marker={"symbol": "x", "size": 6, "color": colour(line.kind)},
                        showlegend=False,
                    )
    if run.settings.clip is not None:
        labelled_hline(
            fig,
            run.settings.clip,
            f"θ = {run.settings.clip:g}",
            line={"color": "#555555", "dash": "dash", "width": 2},
            log=True,
        )
    title = "‖∂L/∂θ‖ before clipping" + (", × where clipped" if run.settings.clip else "")
    themed(fig, title=title)
    fig.update_xaxes(title_text="update")
    fig.update_yaxes(title_text="gradient norm (log scale)", **log_axis())
    return fig


def radius_figure(run: Training) -> go.Figure:
    fig = go.Figure()
    for line in run.history:
        kept = run.history[line]
        radii = kept.array("spectral_radius")  # (U, S, G)
        for s, seed in enumerate(run.seeds):
            label = line.name if len(run.seeds) == 1 else f"{line.name} (seed {seed})"
            y = radii[:, s].max(axis=-1) if radii.size else radii
            fig.add_scatter(
                x=kept.array("updates"), y=y, name=label, mode="lines", line=_line_style(line, s)
            )
    labelled_hline(
        fig, 1.0, "ρ = 1", line={"color": "#555555", "dash": "dot", "width": 2}, log=False
    )
    themed(fig, title="Spectral radius ρ(W_hh): largest over the gate blocks")
    fig.update_xaxes(title_text="update")
    fig.update_yaxes(title_text="ρ", rangemode="tozero")
    return fig


def lag_figure(run: Training, line: Line) -> go.Figure:
    kept = run.history[line]
    lags = kept.array("lag_norms")  # (U, S, T)
    z = lags[:, 0].T if lags.size else np.zeros((1, 1))
    with np.errstate(divide="ignore"):
        logged = np.log10(np.where(z > 0, z, np.nan))
    fig = go.Figure(
        go.Heatmap(
            x=kept.array("updates"),
            y=np.arange(z.shape[0]),
            z=logged,
            colorscale="Viridis",
            colorbar={"title": {"text": "log₁₀ ‖∂L/∂h‖"}},
            hovertemplate="update %{x}<br>k = %{y} steps back<br>10^%{z:.1f}<extra></extra>",
        )
    )
    themed(fig, title=f"{line.name}: ‖∂L/∂h_(T−1−k)‖ over lag k and update")
    fig.update_xaxes(title_text="update")
    fig.update_yaxes(title_text="k, steps back from the last step")
    return fig


def example_figure(run: Training, line: Line) -> go.Figure:
    outputs, target = run.example(line)
    fig = go.Figure()
    T = outputs.shape[0]
    if target.ndim == 1:  # scored on the last step: one target value per output
        fig.add_scatter(x=np.arange(T), y=outputs[:, 0], name="network's answer y_t")
        fig.add_scatter(
            x=[T - 1],
            y=[target[0]],
            name="target (last step)",
            mode="markers",
            marker={"size": 12, "symbol": "star", "color": "#333333"},
        )
        title = f"{line.name}: its answer on one held-out sequence"
    elif outputs.shape[1] == 1:
        fig.add_scatter(x=np.arange(T), y=outputs[:, 0], name="network's answer y_t")
        fig.add_scatter(
            x=np.arange(T), y=target[:, 0], name="target", line={"dash": "dot", "color": "#333333"}
        )
        title = f"{line.name}: its next-step answers on one held-out sequence"
    else:  # categories: the probability it gives the right one
        right = (outputs * target).sum(axis=1)
        fig.add_scatter(x=np.arange(T), y=right, name="probability of the right symbol")
        fig.update_yaxes(range=[0, 1])
        title = f"{line.name}: how sure it is of the right answer at each step"
    themed(fig, title=title)
    fig.update_xaxes(title_text="time step t")
    return fig


def cliff_figure(surface: Surface, paths: Descents) -> go.Figure:
    """The loss surface (log colour) with the two descents, animated step by
    step in the browser (a Plotly slider and frames, as the backward sweep)."""
    with np.errstate(divide="ignore"):
        logged = np.log10(np.maximum(surface.loss, 1e-12))
    fig = go.Figure(
        go.Heatmap(
            x=surface.w,
            y=surface.b,
            z=logged,
            colorscale="Greys",
            reversescale=True,
            colorbar={"title": {"text": "log₁₀ L"}},
            hovertemplate="w = %{x:.2f}, b = %{y:.2f}<br>L = 10^%{z:.2f}<extra></extra>",
        )
    )
    names = ("plain gradient descent", "clipped gradient descent")
    colours = (PLAIN_PATH, CLIPPED_PATH)
    symbols = ("circle", "square")
    for path, name, hue, symbol in zip(
        (paths.plain, paths.clipped), names, colours, symbols, strict=True
    ):
        fig.add_scatter(
            x=path[:1, 0],
            y=path[:1, 1],
            name=name,
            mode="lines+markers",
            line={"color": hue, "width": 3},
            marker={"symbol": symbol, "size": 9, "color": hue},
        )
    steps = len(paths.plain)
    frames = [
        go.Frame(
            name=str(k),
            data=[
                go.Scatter(x=paths.plain[: k + 1, 0], y=paths.plain[: k + 1, 1]),
                go.Scatter(x=paths.clipped[: k + 1, 0], y=paths.clipped[: k + 1, 1]),
            ],
            traces=[1, 2],
        )
        for k in range(steps)
    ]
    fig.frames = frames
    fig.update_layout(
        sliders=[
            {
                "active": 0,
                "currentvalue": {"prefix": "gradient steps: "},
                "pad": {"t": 50},
                "steps": [
                    {
                        "label": str(k),
                        "method": "animate",
                        "args": [
                            [str(k)],
                            {
                                "mode": "immediate",
                                "frame": {"duration": 0, "redraw": False},
                                "transition": {"duration": 0},
                            },
                        ],
                    }
                    for k in range(steps)
                ],
            }
        ],
        updatemenus=[
            {
                "type": "buttons",
                "showactive": False,
                "x": 0.0,
                "y": -0.55,
                "xanchor": "left",
                "buttons": [
                    {
                        "label": "▶ play the descents",
                        "method": "animate",
                        "args": [
                            None,
                            {
                                "frame": {"duration": 250, "redraw": False},
                                "fromcurrent": True,
                                "transition": {"duration": 0},
                            },
                        ],
                    }
                ],
            }
        ],
    )
    themed(fig, title="The cliff: L(w, b) of one sigmoid unit over 50 steps", height=600)
    fig.update_layout(
        legend={"orientation": "h", "x": 0.0, "y": -0.42, "xanchor": "left"},
        margin={"b": 170},
    )
    fig.update_xaxes(title_text="recurrent weight w", range=list(surface.w[[0, -1]]))
    fig.update_yaxes(title_text="bias b", range=list(surface.b[[0, -1]]))
    return fig
