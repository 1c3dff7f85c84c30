"""The command-line figure maker, end to end: ``python -m app.figures`` in a
subprocess writing into a temporary folder, and its argument errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from app import figures
from app.explorer.presets import PRESETS
from app.explorer.state import Settings

ROOT = Path(__file__).resolve().parent.parent
# The charts the app draws for one cell without gates, by their Streamlit keys.
UNGATED_CHARTS = {
    "gradient_flow",
    "backward_sweep",
    "gradient_heatmap",
    "inside_states",
    "jacobian_norms",
    "product_bound",
    "eigenvalues",
    "sensitivity",
    "clipping_global",
    "clipping_parameters",
    "phase_diagram",
}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "app.figures", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )


def chart_key(path: Path) -> str:
    """gradient_flow_rnn_T60_H1_w1.1_seed0_e5f96f.svg → gradient_flow."""
    return path.name.split("_rnn")[0]


def test_a_preset_as_svg_and_csv(tmp_path):
    result = run_cli("--preset", "exploding", "--format", "svg,csv", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    # no log noise from Streamlit's caches outside `streamlit run`, no warnings
    assert "No runtime found" not in result.stderr
    assert "Warning" not in result.stderr and "WARNING" not in result.stderr
    svgs = sorted(tmp_path.glob("*.svg"))
    assert {chart_key(p) for p in svgs} == UNGATED_CHARTS
    for path in svgs:
        root = ET.parse(path).getroot()
        text = " ".join(root.itertext())
        assert "w = 1.1" in text and "T = 60" in text, path.name  # the caption
    (table,) = tmp_path.glob("*.csv")
    rows = list(csv.DictReader(io.StringIO(table.read_text())))
    assert set(rows[0]) == {"t", "cell", "quantity", "unit", "value"}
    # the notes' figure: one linear unit, w = 1.1, so 50 steps back the gradient is 1.1^50 times
    norms = {int(r["t"]): float(r["value"]) for r in rows if r["quantity"] == "grad_hidden_norm"}
    assert norms[59 - 50] / norms[59] == pytest.approx(1.1**50, rel=1e-6)
    # standard output lists what was written
    assert sorted(Path(line) for line in result.stdout.split()) == sorted([*svgs, table])


def test_a_copied_link(tmp_path):
    link = "http://localhost:8501/?cell=gru&T=12&H=2&seed=5&bogus=1"
    result = run_cli(
        "--link", link, "--format", "png", "--format", "json", "--chart", "gradient_flow",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "bogus" in result.stderr  # the ignored key is reported, as the app does
    (png,) = tmp_path.glob("gradient_flow_*.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (data,) = tmp_path.glob("*.json")
    record = json.loads(data.read_text())
    expected = Settings(cells=("gru",), seq_len=12, hidden_size=2, seed=5)
    assert record["settings"]["query"] == expected.to_query()
    assert record["settings"]["fields"]["seq_len"] == 12
    assert len(record["cells"]["gru"]["per_unit"]["hidden"]) == 12


def test_every_preset_gets_its_own_folder(tmp_path):
    result = run_cli("--all-presets", "--format", "csv", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    folders = {p.name for p in tmp_path.iterdir() if p.is_dir()}
    assert folders == set(figures.preset_slugs()) and len(folders) == len(PRESETS)
    assert {"exploding", "vanishing", "clipping", "forget-gate", "default"} <= folders
    for folder in tmp_path.iterdir():
        (table,) = folder.glob("trace_*.csv")
        header = table.read_text().split("\n", 1)[0]
        assert header == "t,cell,quantity,unit,value"


@pytest.mark.parametrize(
    "argv",
    [
        ["--preset", "no-such-preset"],
        ["--format", "gif"],
        ["--preset", "exploding", "--link", "?T=5"],
    ],
    ids=["preset", "format", "two-sources"],
)
def test_bad_arguments_exit_with_code_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        figures.main(argv)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "error:" in error
    if argv[1] == "no-such-preset":
        assert "exploding" in error  # names the presets one could use


def test_help_lists_every_preset(capsys):
    with pytest.raises(SystemExit) as exit_info:
        figures.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for short, name in figures.preset_slugs().items():
        assert short in text and name in text


@pytest.mark.parametrize(
    ("text", "preset"),
    [
        ("exploding", "Exploding (w = 1.1)"),
        ("Exploding (w = 1.1)", "Exploding (w = 1.1)"),
        ("GRU-vs-Elman", "GRU against Elman"),
        ("gru against elman", "GRU against Elman"),
        ("nothing", None),
    ],
)
def test_presets_by_short_or_display_name(text, preset):
    assert figures.find_preset(text) == preset


@pytest.mark.parametrize(
    "link",
    [
        "http://localhost:8501/?cell=gru&T=12#top",
        "?cell=gru&T=12",
        "cell=gru&T=12",
        "localhost:8501/?cell=gru&T=12",
    ],
)
def test_links_in_any_shape(link):
    settings, ignored = Settings.from_query(figures.link_params(link))
    assert ignored == []
    assert settings == Settings(cells=("gru",), seq_len=12)


def test_progress_bar_counts_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    bar = figures.Progress(4, stream, width=8)
    bar.step("a")
    bar.step("b")
    assert "2/4" in stream.getvalue() and "████····" in stream.getvalue()
    quiet = io.StringIO()
    figures.Progress(4, quiet).step("a")
    assert quiet.getvalue() == ""  # not a terminal: no bar in a log file
