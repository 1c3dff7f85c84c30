"""The training lab page: watch networks learn, fail, explode and be rescued.

One entry, ``render()``: the sidebar returns the ``LabSettings``; the run lives
in this session (``RUN_KEY``) and advances only while this page's live part
(an ``st.fragment`` that reruns every ``REFRESH`` seconds) asks for it, so a
visitor who leaves, or presses Pause or Stop, stops the work at once. Each
pass trains for what its drawing leaves of ``REFRESH`` (``slice_seconds``),
then draws.
"""

from __future__ import annotations

import time

import streamlit as st

from app import export, process
from app.lab import charts, cliff, sidebar, words
from app.lab.presets import LAB_PRESETS, matching_lab_preset
from app.lab.state import MAX_WORK, LabSettings
from app.lab.training import Training, lines_of
from app.style import page_css
from app.text import text_column

process.one_blas_thread()  # as the explorer: the engine's sums on one core each
process.keep_freed_memory()
process.switch_threads_sooner()

RUN_KEY = "lab_run"
RUNNING_KEY = "lab_running"
REFRESH = 0.5  # seconds between two live redraws
# Each redraw's training takes what the redraw leaves of REFRESH: the browser
# asks for the next one REFRESH after the last, so a shorter pass leaves the
# engine idle until then, and a longer one delays the charts.
DRAW_MARGIN = 0.03  # seconds kept for the messages to and from the browser
MIN_SLICE = 0.2
DRAW_SECONDS_KEY = "lab_draw_seconds"  # how long the last redraw took
SLOW_REFRESH = 2.0  # seconds between redraws of ρ, the lag map and the example


def render() -> None:
    settings = sidebar.render()
    css = page_css(settings)
    if css:
        st.html(css)
    for text in st.session_state.pop(sidebar.NOTICE_KEY, []):
        st.warning(text)
    preset = matching_lab_preset(settings)
    if preset is not None:
        st.info(f"**{preset}.** {LAB_PRESETS[preset].look_at}")
    training, cliff_tab = st.tabs(["Training", "The cliff"])
    with training:
        controls(settings)
        live(settings)
    with cliff_tab:
        cliff_view(settings)


def controls(settings: LabSettings) -> None:
    state = st.session_state
    run: Training | None = state.get(RUN_KEY)
    if settings.work > MAX_WORK:
        smaller = max(1, int(settings.updates * MAX_WORK / settings.work))
        st.warning(
            f"This run is too large for a shared server (about {settings.work / MAX_WORK:.1f}× "
            f"the budget). {smaller} updates, fewer cells or seeds, or a smaller H or T fit."
        )
        if st.button(f"Train {smaller} updates instead", key="lab_fit"):
            sidebar.load_widgets(settings.replace(updates=smaller))
            st.rerun()
        return
    with st.container(horizontal=True, gap="small"):
        if st.button("▶ Start", key="lab_start", type="primary"):
            state[RUN_KEY] = Training.start(settings)
            state[RUNNING_KEY] = True
            st.rerun()
        running = bool(state.get(RUNNING_KEY))
        if run is not None and not run.finished:
            if running and st.button("⏸ Pause", key="lab_pause"):
                state[RUNNING_KEY] = False
                st.rerun()
            if not running and st.button("⏵ Resume", key="lab_resume"):
                state[RUNNING_KEY] = True
                st.rerun()
            if st.button("⏹ Stop", key="lab_stop"):
                state[RUNNING_KEY] = False
                run.stop()
                st.rerun()
        if run is not None and st.button("↺ Reset", key="lab_reset"):
            state.pop(RUN_KEY, None)
            state[RUNNING_KEY] = False
            st.rerun()
    if run is not None and run.settings.replace(updates=settings.updates) != settings.replace(
        updates=settings.updates
    ):
        st.caption("The charts show a run made with other settings; Start trains with these.")


def live(settings: LabSettings) -> None:
    """The run's progress and charts. While it trains, the loss and gradient
    charts redraw every ``REFRESH`` seconds (after ``slice_seconds`` of
    training each time) and the slower-moving three every ``SLOW_REFRESH``:
    drawing less often leaves the engine more of the machine."""
    running = bool(st.session_state.get(RUNNING_KEY))
    run: Training | None = st.session_state.get(RUN_KEY)
    if run is None:
        st.info(
            "Press Start to train "
            + ", ".join(line.name for line in lines_of(settings))
            + f" for {settings.updates} updates on the same batches."
        )
        return

    @st.fragment(run_every=REFRESH if running else None)
    def fast() -> None:
        state = st.session_state
        if state.get(RUNNING_KEY) and not run.finished:
            run.advance(slice_seconds(state.get(DRAW_SECONDS_KEY, 0.1)))
            if run.finished:
                state[RUNNING_KEY] = False
        started = time.perf_counter()
        rate = run.done / run.seconds if run.seconds else 0.0
        st.progress(
            run.done / run.settings.updates,
            text=f"{run.done} of {run.settings.updates} updates ({rate:.0f} per second)",
        )
        draw(run, "lab_loss", charts.loss_figure(run), words.loss_words(run))
        draw(run, "lab_grad_norm", charts.grad_norm_figure(run), words.grad_words(run))
        state[DRAW_SECONDS_KEY] = time.perf_counter() - started
        if not state.get(RUNNING_KEY) and running:
            st.rerun()  # the whole page again: the live parts stop refreshing

    @st.fragment(run_every=SLOW_REFRESH if running else None)
    def slow() -> None:
        draw(run, "lab_radius", charts.radius_figure(run), words.radius_words(run))
        chosen = st.selectbox(
            "Cell for the lag map and the example",
            list(run.history),
            format_func=lambda line: line.name,
            key="lab_detail",
        ) or next(iter(run.history))
        draw(run, "lab_lags", charts.lag_figure(run, chosen), words.lag_words(run, chosen))
        draw(run, "lab_example", charts.example_figure(run, chosen), [])

    fast()
    slow()


def slice_seconds(draw_seconds: float) -> float:
    """Seconds of training in one live pass: what drawing leaves of REFRESH."""
    return max(MIN_SLICE, REFRESH - draw_seconds - DRAW_MARGIN)


def draw(run: Training, chart_key: str, fig, sentences: list[str]) -> None:
    """One chart, its downloads under it, its sentences beside it."""
    left, right = st.columns([3, 1])
    with left:
        st.plotly_chart(styled(fig, run.settings), key=chart_key, config={"displaylogo": False})
        download_row(chart_key, fig, run.settings)
    with right:
        text_column(*sentences)


def cliff_view(settings: LabSettings) -> None:
    st.subheader("Pascanu's cliff: where one gradient step throws the weights away")
    left, right = st.columns([3, 1])
    surface = cached_surface()
    paths = cliff.descents(
        (settings.cliff_w, settings.cliff_b), settings.cliff_lr, settings.cliff_clip
    )
    fig = charts.cliff_figure(surface, paths)
    with left:
        st.plotly_chart(styled(fig, settings), key="lab_cliff", config={"displaylogo": False})
        download_row("lab_cliff", fig, settings)
    with right:
        text_column(*words.cliff_words(paths, settings.cliff_lr, settings.cliff_clip))
        start = st.number_input("start w", -2.0, 10.0, key=sidebar.key("cliff_w"), step=0.1)
        st.number_input("start b", -8.0, 4.0, key=sidebar.key("cliff_b"), step=0.1, format="%.11f")
        st.number_input("learning rate", 1e-3, 10.0, key=sidebar.key("cliff_lr"))
        st.number_input("clipping θ", 1e-3, 100.0, key=sidebar.key("cliff_clip"))
        edge = cliff.cliff_edge(start)
        if edge is not None and st.button("Start on the cliff's face", key="lab_cliff_edge"):
            st.session_state[sidebar.key("cliff_b")] = edge + 1e-6
            st.rerun()


@st.cache_resource(max_entries=1)
def cached_surface() -> cliff.Surface:
    return cliff.surface()


def styled(fig, settings):
    from app.style import styled as restyle

    return restyle(fig, settings)


def download_row(chart_key: str, fig, settings: LabSettings) -> None:
    with st.container(horizontal=True, gap="small", key=f"downloads_{chart_key}"):
        for fmt in export.FORMATS:
            st.download_button(
                fmt.upper(),
                data=lambda fmt=fmt: export.figure_image(fig, settings, fmt),
                file_name=f"{chart_key}_{export.short_settings(settings)}.{fmt}",
                mime="image/png" if fmt == "png" else "image/svg+xml",
                on_click="ignore",
                type="tertiary",
                icon=":material/download:",
                key=f"download_{chart_key}_{fmt}",
            )
