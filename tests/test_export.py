"""Figures for slides (app.export) and the numbers behind them (app.tidy).

One kaleido export server serves the whole module (it starts Chromium, about
3 s); it is stopped at the end so no browser outlives the tests.
"""

from __future__ import annotations

import csv
import io
import json
import struct
import threading
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import parse_qsl

import numpy as np
import pytest

from app import export, tidy
from app.explorer.state import Settings
from app.explorer.views.common import Runs
from app.figures import all_figures, quiet_streamlit, view_figures, views

quiet_streamlit()

SMALL = Settings(
    cells=("rnn", "lstm"), focus="lstm", seq_len=20, hidden_size=3, seed=3, spectral_radius=1.2
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module", autouse=True)
def export_server():
    yield
    export.stop_server()


def flow_figure(settings: Settings):
    return view_figures(views()["Gradient flow"], settings)["gradient_flow"]


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from the PNG's IHDR chunk, the first after the signature."""
    assert png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


def svg_text(svg: bytes) -> str:
    root = ET.fromstring(svg)  # raises if the SVG is not well-formed XML
    assert root.tag.endswith("svg")
    return " ".join(t.strip() for t in root.itertext() if t.strip())


# ---- images -------------------------------------------------------------------------------


def test_png_is_a_png_twice_the_layout_size():
    fig = flow_figure(SMALL)
    png = export.figure_image(fig, SMALL, "png")
    assert png[:8] == PNG_SIGNATURE
    layout = export.export_spec(fig, SMALL)["layout"]
    assert png_size(png) == (2 * layout["width"], 2 * layout["height"])
    # the caption makes room below the plot: taller than the chart in the app
    assert layout["height"] > fig.layout.height
    assert png_size(png)[0] == 2 * export.EXPORT_WIDTH


def test_svg_parses_and_its_caption_reproduces_the_settings():
    svg = export.figure_image(flow_figure(SMALL), SMALL, "svg")
    text = svg_text(svg)
    assert "How far back the gradient reaches" in text  # the app's title
    assert "Elman RNN" in text and "LSTM" in text
    assert "T = 20" in text and "H = 3" in text and "ρ = 1.2" in text and "seed 3" in text
    # the caption's link, read back, gives the same settings
    query = text.split("link: ?", 1)[1].split()[0]
    settings, ignored = Settings.from_query(dict(parse_qsl(query)))
    assert ignored == [] and settings == SMALL


def test_same_settings_same_bytes_different_settings_different_bytes():
    other = SMALL.replace(seq_len=30)
    for fmt in export.FORMATS:
        first = export.figure_image(flow_figure(SMALL), SMALL, fmt)
        again = export.figure_image(flow_figure(SMALL), SMALL, fmt)
        second = export.figure_image(flow_figure(other), other, fmt)
        assert first == again, fmt  # reproducible files (plotly.js's random ids are fixed)
        assert first != second, fmt
        if fmt == "svg":
            assert "T = 30" in svg_text(second) and "T = 20" in svg_text(first)
    # a setting the caption does not name still changes the figure and its name
    relu = SMALL.replace(activation="relu")
    assert export.figure_image(flow_figure(relu), relu, "svg") != first
    assert export.file_name("gradient_flow", relu, "svg") != export.file_name(
        "gradient_flow", SMALL, "svg"
    )


def test_every_chart_of_a_state_exports():
    figures = all_figures(SMALL)
    # every view contributes; the LSTM focus cell has gates
    assert {"gradient_flow", "inside_gates", "sensitivity", "clipping_global"} <= set(figures)
    assert {"phase_diagram", "eigenvalues", "product_bound"} <= set(figures)
    for key, fig in figures.items():
        svg = export.figure_image(fig, SMALL, "svg")
        assert "seed 3" in svg_text(svg), key


def test_export_keeps_the_app_look_and_drops_the_in_chart_slider():
    fig = flow_figure(SMALL)
    spec = export.export_spec(fig, SMALL)
    shown = fig.to_dict()
    # same lines, colours and widths (a fixed uid aside)
    assert [{k: v for k, v in t.items() if k != "uid"} for t in spec["data"]] == shown["data"]
    for part in ("font", "xaxis", "yaxis", "legend"):
        assert spec["layout"][part] == shown["layout"][part]
    assert spec["layout"]["title"]["text"] == shown["layout"]["title"]["text"]
    assert "frames" not in spec and "sliders" not in spec["layout"]
    # the caption is one more annotation, under the plot
    caption = spec["layout"]["annotations"][-1]
    assert caption["y"] < 0 and "seed 3" in caption["text"]
    assert spec["layout"]["margin"]["b"] > shown["layout"]["margin"]["b"]


def test_exports_from_many_threads_each_get_their_own_figure():
    """The server is shared by every session's thread: the lock keeps answers apart."""
    lengths = [5, 6, 7, 8, 9, 10]
    results: dict[int, bytes] = {}
    figures = {T: flow_figure(SMALL.replace(seq_len=T)) for T in lengths}

    def export_one(T: int) -> None:
        results[T] = export.figure_image(figures[T], SMALL.replace(seq_len=T), "svg")

    threads = [threading.Thread(target=export_one, args=(T,)) for T in lengths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for T in lengths:
        assert f"T = {T} " in svg_text(results[T]), T


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="format"):
        export.figure_image(flow_figure(SMALL), SMALL, "gif")


def test_file_names_say_the_chart_and_differ_with_the_settings():
    a = export.file_name("gradient_flow", SMALL, "svg")
    b = export.file_name("gradient_flow", SMALL.replace(activation="relu"), "svg")
    assert a.startswith("gradient_flow_rnn-lstm_T20_H3_rho1.2_seed3") and a.endswith(".svg")
    assert a != b
    assert export.file_name("gradient_flow", Settings(), "png") == (
        "gradient_flow_rnn-lstm_T100_H16_seed0.png"
    )


# ---- the numbers: CSV and JSON --------------------------------------------------------------


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_trace_csv_is_tidy_and_holds_the_trace():
    text = tidy.trace_csv(SMALL)
    assert text.splitlines()[0] == "t,cell,quantity,unit,value"
    rows = read_csv(text)
    assert len(rows) == tidy.estimated_rows(SMALL)
    trace = Runs(SMALL).get("lstm").trace
    by_key = {(r["t"], r["cell"], r["quantity"], r["unit"]): r["value"] for r in rows}
    assert float(by_key[("7", "lstm", "grad_hidden", "2")]) == pytest.approx(
        trace.grad_hidden[7, 2], rel=1e-8
    )
    assert float(by_key[("4", "lstm", "gate_forget", "1")]) == pytest.approx(
        trace.gates["forget"][4, 1], rel=1e-8
    )
    assert float(by_key[("0", "lstm", "cell_state", "0")]) == pytest.approx(
        trace.cell[0, 0], rel=1e-8
    )
    # per-step scalars have no unit
    norm = float(by_key[("19", "rnn", "grad_hidden_norm", "")])
    rnn = Runs(SMALL).get("rnn").trace
    assert norm == pytest.approx(np.linalg.norm(rnn.grad_hidden[19]), rel=1e-8)
    assert ("5", "rnn", "jacobian_norm", "") in by_key
    quantities = {r["quantity"] for r in rows if r["cell"] == "rnn"}
    assert quantities == {"hidden", "grad_hidden", "grad_hidden_norm", "jacobian_norm"}


def test_trace_csv_marks_the_backward_direction():
    settings = Settings(cells=("gru",), seq_len=6, hidden_size=2, bidirectional=True)
    rows = read_csv(tidy.trace_csv(settings))
    assert len(rows) == tidy.estimated_rows(settings)
    reverse = Runs(settings).get("gru").trace.hidden_reverse
    value = next(
        r["value"]
        for r in rows
        if (r["t"], r["quantity"], r["unit"]) == ("2", "hidden_reverse", "1")
    )
    assert float(value) == pytest.approx(reverse[2, 1], rel=1e-8)
    assert "jacobian_norm_reverse" in {r["quantity"] for r in rows}


def test_trace_json_has_the_settings_and_strict_numbers():
    # the gradient overflows here: inf in the trace must become null, not Infinity
    settings = Settings(
        cells=("rnn",), hidden_size=1, activation="linear", recurrent_weight=3.0, seq_len=600
    )

    def refuse(constant):
        raise AssertionError(f"not strict JSON: {constant}")

    record = json.loads(tidy.trace_json(settings), parse_constant=refuse)
    assert record["settings"]["query"] == settings.to_query()
    assert Settings(**{k: _tuple(v) for k, v in record["settings"]["fields"].items()}) == settings
    rnn = record["cells"]["rnn"]
    trace = Runs(settings).get("rnn").trace
    assert rnn["nonfinite_backward"] == trace.nonfinite_backward
    grad = rnn["per_unit"]["grad_hidden"]
    assert len(grad) == 600 and len(grad[0]) == 1
    assert grad[0][0] is None  # overflowed
    assert grad[-1][0] == pytest.approx(trace.grad_hidden[-1, 0], rel=1e-12)
    assert rnn["per_step"]["jacobian_norm"][10] == pytest.approx(
        float(trace.state_jacobian_norm[10]), rel=1e-12
    )


def test_trace_json_reports_a_refused_cell():
    # a bidirectional Jordan network cannot run: the app shows it one-way
    settings = Settings(cells=("rnn", "jordan"), seq_len=5, hidden_size=2, bidirectional=True)
    record = json.loads(tidy.trace_json(settings))
    assert set(record["cells"]) == {"rnn", "jordan"}
    assert "hidden_reverse" in record["cells"]["rnn"]["per_unit"]
    assert "hidden_reverse" not in record["cells"]["jordan"]["per_unit"]


def _tuple(value):
    """JSON lists back to the tuples Settings holds."""
    if isinstance(value, list):
        return tuple(_tuple(v) for v in value)
    return value


# ---- the buttons in the app ---------------------------------------------------------------


def test_every_chart_in_the_app_has_png_and_svg_buttons():
    from streamlit.testing.v1 import AppTest

    app = str(Path(__file__).resolve().parent.parent / "app" / "streamlit_app.py")
    at = AppTest.from_file(app, default_timeout=120)
    for key, value in SMALL.to_query().items():
        at.query_params[key] = value
    at.run()
    for view in ("Gradient flow", "Why it vanishes"):
        at.session_state["view"] = view
        at.run()
        assert not at.exception
        charts = {e.proto.id.split("-")[-1] for e in at.get("plotly_chart")}
        buttons = {e.proto.id.split("-")[-1] for e in at.get("download_button")}
        assert len(charts) >= 2, view
        for key in charts:
            assert {f"download_{key}_png", f"download_{key}_svg"} <= buttons, key
    sidebar = {e.proto.id.split("-")[-1] for e in at.sidebar.get("download_button")}
    assert sidebar == {"download_trace_csv", "download_trace_json"}


def test_caption_of_w_hh_as_drawn_says_the_radius_the_chart_is_drawn_at():
    """Never "ρ as drawn": the number the sidebar shows and the chart uses."""
    from app.compute import cell_spec, drawn_radius

    settings = Settings()  # W_hh as the initialisation drew it
    caption = " ".join(export.caption_lines(settings))
    radius = drawn_radius(cell_spec(settings, settings.focus_cell))
    assert f"ρ = {radius:.3f}" in caption
    assert "as drawn" not in caption
