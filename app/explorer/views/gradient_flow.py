"""1. Gradient flow: ‖∂L/∂h_t‖ over t, one line per cell, with an in-chart
slider over w (single unit) or ρ (matrix) that redraws in the browser; and
∂L/∂h_t of one cell as a heatmap (unit × step)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app import budget, cached, charts, flow_chart, in_place, panels
from app.compute import GATE_BLOCKS, sample_steps, spectral_radius, uploaded_for
from app.explorer import lecture
from app.explorer.presets import TANH_NOTE_PRESETS, matching_preset
from app.explorer.state import Settings
from app.explorer.views.common import (
    MAX_STEPS_DRAWN,
    TEXT_BESIDE,
    Runs,
    chart,
    chart_element_keys,
    colour,
    download_row,
    name,
)
from app.explorer.views.scrub_text import (
    FIFTY_ELEMENT,
    STEPS_BACK,
    fifty_text,
    follow_scrub,
    knob_label,
    ratios_back,
)
from app.explorer.views.slider_runs import FRAMES, SWEEPS, make_sweeps
from app.sweeps import estimated_seconds, knob_name, scrub_values
from app.text import latex_number, sci, text_column

KEY = "gradient_flow"
SCRUB_RUNS = 41  # values of the in-chart slider (sweeps.scrub_values)
SCRUB_BUDGET_SECONDS = budget.SLIDER_SECONDS  # longest the in-chart slider's runs may take
MAX_UNITS_DRAWN = 64
# points per line in each of the in-chart slider's frames: 41 frames of every
# line at 600 points made a long run's chart 1.2 MB, re-sent on each rerun
FRAME_STEPS = 200
LSTM_KINDS = ("lstm", "lstm_nofg")


def figures(settings: Settings, runs: Runs) -> dict[str, go.Figure]:
    """The view's charts as exported: the gradient lines at the current
    settings (no in-chart slider) and the focus cell's heatmap."""
    out = {}
    flow = flow_parts(settings, runs)
    if flow is not None:
        out["gradient_flow"] = lecture.lock_y(
            flow_chart.gradient_flow_figure(flow.lines, **flow.figure_args), settings
        )
    heatmap = heatmap_figure(settings, runs)
    if heatmap is not None:
        out["gradient_heatmap"] = heatmap
    return out


@dataclass(frozen=True)
class FlowParts:
    """What the gradient-flow chart draws: the cells drawn, the steps drawn,
    each line's source and Line, and ``gradient_flow_figure``'s other arguments."""

    kinds: list
    steps: np.ndarray
    sources: list
    lines: list
    figure_args: dict


def flow_parts(settings: Settings, runs: Runs) -> FlowParts | None:
    """None when no cell could run."""
    kinds = [kind for kind, _ in runs.finished()]
    if not kinds:
        return None
    steps = steps_drawn(settings, MAX_STEPS_DRAWN)
    sources = line_sources(settings, kinds)
    lines = [_line(settings, runs, source, steps, None) for source in sources]
    lines += lecture.extra_lines(settings, runs, steps)  # after the in-chart slider's
    return FlowParts(kinds, steps, sources, lines, _figure_args(settings))


@dataclass(frozen=True)
class KeptFrame:
    """The in-chart slider's runs, whose frame ``active`` is the current settings."""

    sweeps: dict  # kind → (V, T) norms (see slider_runs.make_sweeps)
    values: np.ndarray  # (V,) the knob's values
    active: int


def kept_frame(settings: Settings, runs: Runs) -> KeptFrame | None:
    """The in-chart slider's runs when they are ready and one of their frames
    is exactly the current settings for every cell shown (the knob, ρ or w, on
    their grid, and W_hh not edited by hand); else None.

    The chart can then be drawn from them before the engine runs the current
    settings (the text and heatmap under it still need that run): a sidebar
    move of the knob redraws the chart as soon as the in-chart slider would."""
    specs = {kind: cached.knob_free(runs.spec(kind)) for kind in settings.cells}
    sweeps = {kind: SWEEPS.get(spec) for kind, spec in specs.items()}
    if any(sweep is None for sweep in sweeps.values()):
        return None
    first = runs.spec(settings.cells[0])
    knob = knob_name(first)
    values = scrub_values(first)
    hits = np.flatnonzero(values == getattr(first, knob))
    if hits.size == 0:
        return None
    active = int(hits[0])
    for kind, spec in specs.items():
        if spec.replace(**{knob: float(values[active])}) != runs.spec(kind):
            return None
        if not np.isfinite(sweeps[kind][0][active]).any():  # a refused run left only nan
            return None
    return KeptFrame(sweeps, values, active)


def kept_flow_parts(settings: Settings, runs: Runs, kept: KeptFrame) -> FlowParts:
    """``flow_parts`` read from the in-chart slider's runs: the same numbers,
    since each frame is the engine run of the same CellSpec."""
    steps = steps_drawn(settings, MAX_STEPS_DRAWN)
    sources = line_sources(settings, list(settings.cells))
    rows = _frame_rows(settings, runs, kept.sweeps, sources, kept.values)
    lines = [
        _line(settings, runs, source, steps, row[kept.active])
        for source, row in zip(sources, rows, strict=True)
    ]
    lines += lecture.extra_lines(settings, runs, steps, kept)  # after the in-chart slider's
    return FlowParts(list(settings.cells), steps, sources, lines, _figure_args(settings))


def render(settings: Settings, runs: Runs) -> Callable[[], None] | None:
    """Draw the view. When the in-chart slider's runs are still to be made, the
    chart is drawn without it and the runs are returned as work to finish once
    the whole page is drawn (``page.finish_view``), which then draws the chart
    again in its place, with its slider."""
    drawn = flow_figure(settings, runs)
    if drawn is None:
        st.info("No cell could run with these settings; see the message above.")
        return None
    left, right = st.columns(TEXT_BESIDE, gap="medium")
    with left:
        slot = in_place.Slot(chart_element_keys(KEY))
        slot.draw(lambda: _chart(drawn, settings, alone=True))
        download_row(KEY, settings, drawn.static)
        status = st.empty()
    finished = list(runs.finished())  # the engine runs the current settings here, if not before
    with right:
        _explain(settings, runs, finished, drawn.scrub_wanted, drawn.seconds)
        lecture.reference_note(settings, runs)
        lecture.compare_note(settings)
    _heatmap(settings, runs)

    def draw_again(again: DrawnFlow) -> None:
        slot.draw(lambda: _chart(again, settings, alone=False))

    return drawn.finisher(status, settings, runs, draw_again)


def _chart(drawn: DrawnFlow, settings: Settings, *, alone: bool) -> None:
    chart(drawn.fig, KEY, settings, downloads=False, alone=alone, follow=drawn.follow)


@dataclass(frozen=True)
class DrawnFlow:
    """The gradient-flow chart as the page draws it (with its in-chart slider
    when its runs are ready), what is exported (``static``), and the slider's
    runs still to make (``pending``: specs, sweeps and values, or None)."""

    fig: go.Figure
    static: Callable[[], go.Figure]
    scrub_wanted: bool
    seconds: float
    pending: tuple | None
    follow: object = None  # the scrub's sentences, for the browser to follow (scrub_text)

    def finisher(
        self, status, settings: Settings, runs: Runs, draw: Callable[[DrawnFlow], None]
    ) -> Callable[[], None] | None:
        """The slider's runs to make once the page is drawn, reported in
        ``status``; then ``draw`` is given the chart with its slider."""
        if self.pending is None:
            return None
        specs, sweeps, values = self.pending

        def finish() -> None:
            make_sweeps(status, specs, sweeps, values)
            again = flow_figure(settings, runs)
            if again is not None and again.pending is None:
                draw(again)

        return finish


def flow_figure(settings: Settings, runs: Runs) -> DrawnFlow | None:
    """The chart ``render`` draws (also the presenter view's); None when no
    cell could run."""
    kept = kept_frame(settings, runs)
    flow = flow_parts(settings, runs) if kept is None else kept_flow_parts(settings, runs, kept)
    if flow is None:
        return None
    kinds, steps, sources, lines = flow.kinds, flow.steps, flow.sources, flow.lines
    figure_args = flow.figure_args
    T = settings.steps

    def static() -> go.Figure:  # what is exported; built only when drawn or downloaded
        return lecture.lock_y(flow_chart.gradient_flow_figure(lines, **figure_args), settings)

    specs = {kind: cached.knob_free(runs.spec(kind)) for kind in kinds}
    values = scrub_values(runs.spec(kinds[0]))
    seconds = sum(estimated_seconds(runs.spec(kind)) for kind in kinds) * len(values)
    scrub_wanted = T >= 2 and seconds <= SCRUB_BUDGET_SECONDS and budget.slider_fits(settings)
    sweeps = {kind: SWEEPS.get(spec) for kind, spec in specs.items()}
    ready = scrub_wanted and all(sweep is not None for sweep in sweeps.values())
    follow = None
    if ready:
        scrub = _scrub(settings, runs, specs, sweeps, sources, steps, values)
        setting = knob_label(_setting_knob(settings, runs), values)
        off_grid = setting not in [f"{v:.2f}" for v in values]
        fig = lecture.lock_y(
            flow_chart.gradient_flow_figure(
                lines, **scrub, setting_label=setting if off_grid else None, **figure_args
            ),
            settings,
        )
        follow = follow_scrub(settings, sweeps, values, setting)
    else:
        fig = static()
    pending = (specs, sweeps, values) if scrub_wanted and not ready else None
    return DrawnFlow(fig, static, scrub_wanted, seconds, pending, follow)


def steps_drawn(settings: Settings, at_most: int) -> np.ndarray:
    """At most ``at_most`` steps spread over those the chart shows: all T, or
    the last ``settings.last_steps`` (each then drawn, up to ``at_most``)."""
    first = settings.first_step_shown
    return first + sample_steps(settings.steps - first, at_most)


def line_sources(settings: Settings, kinds: list[str]) -> list[tuple[str, str]]:
    """(kind, what) for every line, in drawing order: "h" forward, "rev" the
    backward direction, "c" an LSTM's cell; ("", "ref") the w^(T−1−t) reference."""
    sources = []
    for kind in kinds:
        sources.append((kind, "h"))
        if settings.bidirectional and kind != "jordan":
            sources.append((kind, "rev"))
        if kind in LSTM_KINDS:
            sources.append((kind, "c"))
    if settings.single_unit:
        sources.append(("", "ref"))
    return sources


def _line(settings, runs, source, steps, values) -> charts.Line:
    """One line; ``values`` (T,) given, or read from the cell's trace."""
    kind, what = source
    if what == "ref":
        return charts.Line(
            f"|w|<sup>T−1−t</sup> × ‖∂L/∂h<sub>T−1</sub>‖ (w = {settings.recurrent_weight:g})",
            charts.OKABE_ITO["black"],
            steps,
            values[steps] if values is not None else _reference(settings, runs)[steps],
            dash="dash",
            width=2,
        )
    if values is None:
        values = _norms(runs.get(kind).trace, what)
    cell = legend_name(settings, kind)
    label = {
        "h": cell,
        "rev": f"{cell}, backward direction",
        "c": f"{cell}: ‖∂L/∂c<sub>t</sub>‖ (cell state)",
    }[what]
    dash = {"h": "solid", "rev": "dash", "c": "dot"}[what]
    return charts.Line(label, colour(kind), steps, values[steps], dash=dash)


UPLOADED = " (your weights)"


def legend_name(settings: Settings, kind: str) -> str:
    """The cell's name, saying when it runs the uploaded weights."""
    return name(kind) + (UPLOADED if uploaded_for(settings, kind) is not None else "")


def _norms(trace, what: str) -> np.ndarray:
    from app.compute import norms_over_time

    grad = {"h": trace.grad_hidden, "rev": trace.grad_hidden_reverse, "c": trace.grad_cell}[what]
    return norms_over_time(grad)


def _reference(settings: Settings, runs: Runs, w: float | None = None, anchor=None):
    """(T,) |w|^(T−1−t) · ‖∂L/∂h_{T−1}‖ of the first cell shown."""
    T = settings.steps
    w = settings.recurrent_weight if w is None else w
    if anchor is None:
        first = runs.get(settings.cells[0])
        anchor = _norms(first.trace, "h")[-1] if first.trace is not None else 1.0
    with np.errstate(all="ignore"):
        return anchor * np.abs(w) ** (T - 1 - np.arange(T, dtype=np.float64))


def _figure_args(settings: Settings) -> dict:
    # no clipping threshold here: θ bounds the parameters' global norm ‖∂L/∂θ‖,
    # not ‖∂L/∂h_t‖, so it is drawn on the Clipping tab's chart of that norm only
    return {
        "steps": settings.steps,
        "chunk": settings.truncation,
        "first_step": settings.first_step_shown,
    }


def _scrub(settings, runs, specs, sweeps, sources, steps, values) -> dict:
    """The in-chart slider's frames (drawn once per sweep, then kept) and the
    frame to start on: ``gradient_flow_figure``'s keyword arguments."""
    first_kind = next(iter(specs))
    key = (tuple(specs.values()), tuple(sources), settings.steps, settings.first_step_shown)
    parts = FRAMES.get(key)
    if parts is None:
        parts = flow_chart.scrub_parts(_frames(settings, runs, sweeps, sources, steps, values))
        FRAMES.put(key, parts)
    current = _current_knob(settings, runs, first_kind)
    label = "w" if settings.single_unit else "ρ"
    return {
        "scrub": parts,
        "active": int(np.argmin(np.abs(values - current))),
        # the words on lines leaving the axis stay as the slider moves: say when they hold
        "words_at": f"at {label} = {current:.2f}, ",
    }


def _frames(settings, runs, sweeps, sources, steps, values) -> flow_chart.Scrub:
    per_line = _frame_rows(settings, runs, sweeps, sources, values)
    drawn = steps if steps.size <= FRAME_STEPS else steps_drawn(settings, FRAME_STEPS)
    frames = [[rows[v][drawn] for rows in per_line] for v in range(len(values))]
    label = "w" if settings.single_unit else "ρ"
    return flow_chart.Scrub(label, values, frames, steps=None if drawn is steps else drawn)


def _frame_rows(settings, runs, sweeps, sources, values) -> list[np.ndarray]:
    """(V, T) values of each line, one row per value of the knob."""
    first_kind = next(iter(sweeps))
    index = {"h": 0, "rev": 1, "c": 2}
    per_line = []
    for kind, what in sources:
        if what == "ref":
            anchors = sweeps[first_kind][0][:, -1]  # (V,) ‖∂L/∂h_{T−1}‖
            per_line.append(
                np.stack(
                    [
                        _reference(settings, runs, w=float(v), anchor=a)
                        for v, a in zip(values, anchors, strict=True)
                    ]
                )
            )
        else:
            per_line.append(sweeps[kind][index[what]])
    return per_line


def _setting_knob(settings: Settings, runs: Runs) -> float:
    """The knob's value as the sidebar gives it: w, ρ, or W_hh's drawn ρ of
    the focus cell (each cell's W_hh as drawn has its own)."""
    if settings.single_unit or settings.spectral_radius is not None:
        return _current_knob(settings, runs, settings.focus_cell)
    if settings.matrix_for_size is not None:
        return _current_knob(settings, runs, settings.cells[0])
    return cached.drawn_radius(runs.spec(settings.focus_cell))


def _current_knob(settings: Settings, runs: Runs, kind: str) -> float:
    if settings.single_unit:
        return settings.recurrent_weight
    if settings.spectral_radius is not None and settings.matrix_for_size is None:
        return settings.spectral_radius
    run = runs.get(kind)
    if run.params is None or kind == "jordan":
        return 1.0
    H = settings.hidden_size
    main = GATE_BLOCKS[kind].index("main")
    return spectral_radius(run.params["weight_hh"][main * H : (main + 1) * H])


def _explain(settings: Settings, runs: Runs, finished, scrub_wanted: bool, seconds: float):
    T = settings.steps
    st.markdown(
        "Each line is the size of the gradient of the loss with respect to the hidden "
        "state at step t: how strongly what happened at step t can still be corrected. "
        "On this log axis a straight slope means the same factor at every step."
    )
    paragraphs = []
    ratios = ratios_back({kind: _norms(run.trace, "h") for kind, run in finished})
    if ratios:
        # plain HTML, no formula: the in-chart slider rewrites it (``_follow``)
        knob = "w" if settings.single_unit else "ρ"
        focus = settings.focus_cell
        label = knob_label(_setting_knob(settings, runs), scrub_values(runs.spec(focus)))
        if not settings.single_unit and settings.spectral_radius is None:
            # each cell's W_hh as drawn has its own ρ: the one the sidebar shows
            label += f" (the {name(focus)}'s W_hh as drawn)"
        text = fifty_text(knob, label, ratios)
        # HTML from the app's own words only (the cells' fixed names, numbers it
        # formats): nothing a link or an upload gave reaches it
        st.markdown(f'<span class="{FIFTY_ELEMENT}">{text}</span>', unsafe_allow_html=True)
    if settings.setup == "many_to_many":
        paragraphs.append(
            "With the loss summed over steps, each ‖∂L/∂hₜ‖ also holds the loss at step "
            "t itself, so the lines level off: the long-range part hides under the local "
            "one (see the T × T map under *Why it vanishes*)."
        )
    if settings.clip is not None:
        norms = "; ".join(f"{name(k)} {sci(r.trace.grad_norm)}" for k, r in finished)
        paragraphs.append(
            f"Clipping (θ = {settings.clip:g}) acts after "
            f"backpropagation on the parameters' global gradient norm ‖∂L/∂θ‖ ({norms}), "
            "so it leaves these curves as they are: it only shortens the update "
            "(see the Clipping tab)."
        )
    if settings.truncation is not None and settings.truncation < T:
        paragraphs.append(
            f"Dotted lines: truncation chunks of k = {settings.truncation} steps. No "
            "gradient crosses them, so the line stops (0 cannot be drawn on a log axis)."
        )
    latex = [
        r"\frac{\partial L}{\partial h_t}=\frac{\partial L}{\partial h_{T-1}}"
        r"\prod_{\tau=t+1}^{T-1}\frac{\partial h_\tau}{\partial h_{\tau-1}}"
    ]
    if settings.single_unit:
        latex.append(r"\frac{\partial h_\tau}{\partial h_{\tau-1}} = w\,f'(a_\tau)")
        latex.append(
            rf"w^{{{STEPS_BACK}}} = {settings.recurrent_weight:g}^{{{STEPS_BACK}}} = "
            + latex_number(abs(settings.recurrent_weight) ** STEPS_BACK, 5)
        )
        if settings.activation == "linear":
            paragraphs.append(
                "A linear unit has f′ = 1, so each step multiplies the gradient by w "
                "exactly: the line follows the dashed reference."
            )
    if matching_preset(settings) in TANH_NOTE_PRESETS:
        paragraphs.append(_tanh_note(settings, runs))
        paragraphs.append(
            "(Course notes 002, “Problem of BPTT”, count “65 times of repetition” from step "
            "115 back to step 50, but the two results they give for one unit, 117 for "
            "w = 1.1 and 0.005 for w = 0.9, are 1.1⁵⁰ and 0.9⁵⁰: fifty factors. Course "
            "notes 000 say their own eq. 5–11 “need fixing”: they leave out f′(a), which "
            "is in the product above.)"
        )
    if scrub_wanted:
        knob = "the recurrent weight w" if settings.single_unit else "the spectral radius ρ"
        paragraphs.append(
            f"Drag the slider under the chart to change {knob}: the lines and the "
            "fifty-steps-back numbers redraw at once; the “Use …” button under it makes "
            "that value the setting (the sidebar and the link)."
        )
    elif T >= 2:
        paragraphs.append(
            f"(The slider under the chart is off at this size: its {SCRUB_RUNS} runs per cell "
            f"would take about {seconds:.0f} s. The sidebar's controls still work.)"
        )
    text_column(*paragraphs, latex=latex)


def _tanh_note(settings: Settings, runs: Runs) -> str:
    """The same unit with tanh, measured: each factor w·tanh′(a) is at most |w|."""
    note = "With tanh each step's factor w·tanh′(aₜ) is at most |w|, so the gradient is smaller"
    linear, tanh = (
        _ratio_back(settings, cached.cell_run(runs.spec(settings.cells[0]).replace(activation=a)))
        for a in ("linear", "tanh")
    )
    if linear is None or tanh is None:
        return note + "."
    note += (
        f": fifty steps back the same unit with tanh keeps {sci(tanh)} × the last step's "
        f"gradient, against {sci(linear)} × for the linear unit"
    )
    if tanh < 1 <= linear:
        note += ", so it vanishes instead of exploding"
    return note + "."


def _ratio_back(settings: Settings, run) -> float | None:
    """‖∂L/∂h_{T−51}‖ / ‖∂L/∂h_{T−1}‖ of ``run``, if it ran that long."""
    if run.trace is None or settings.steps <= STEPS_BACK:
        return None
    norms = _norms(run.trace, "h")
    if not norms[-1] > 0:
        return None
    return float(norms[settings.steps - 1 - STEPS_BACK] / norms[-1])


def heatmap_figure(settings: Settings, runs: Runs) -> go.Figure | None:
    """|∂L/∂h_t| of the focus cell, unit by unit (None if it could not run)."""
    kind = runs.focus
    run = runs.get(kind)
    if run.trace is None:
        return None
    steps = steps_drawn(settings, 300)
    grad = np.abs(run.trace.grad_hidden[steps, :MAX_UNITS_DRAWN]).T  # (units, steps)
    return panels.log_heatmap_figure(
        grad,
        steps,
        title=f"{name(kind)}: |∂L/∂h<sub>t</sub>| unit by unit",
        colour_title="|∂L/∂h|",
        height=380 if settings.hidden_size > 8 else 300,
    )


def _heatmap(settings: Settings, runs: Runs) -> None:
    fig = heatmap_figure(settings, runs)
    if fig is None:
        return
    kind = runs.focus
    left, right = st.columns(TEXT_BESIDE, gap="medium")
    with left:
        chart(fig, "gradient_heatmap", settings)
    with right:
        shown = min(settings.hidden_size, MAX_UNITS_DRAWN)
        text_column(
            f"Each row is one hidden unit of the {name(kind)} (choose the cell in the "
            f"sidebar); colour is the size of its gradient on a log scale. "
            + (
                f"The first {shown} of {settings.hidden_size} units are shown. "
                if shown < settings.hidden_size
                else ""
            )
            + "Vanishing shows as the colour fading to the left, for every unit at once."
        )
