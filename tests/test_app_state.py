"""The app's state: one Settings, one table of fields, links that round-trip."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.explorer.presets import DEFAULT_PRESET, PRESETS, matching_preset  # noqa: E402
from app.explorer.state import FIELD_BY_NAME, FIELDS, Settings  # noqa: E402
from app.links import check_value  # noqa: E402


def test_the_table_lists_every_field_once():
    names = [f.name for f in FIELDS]
    keys = [f.key for f in FIELDS]
    assert names == [f.name for f in dataclasses.fields(Settings)]
    assert len(set(keys)) == len(keys)
    assert all(len(k) <= 6 for k in keys)  # short, readable links


def test_seed_is_a_setting():
    assert "seed" in FIELD_BY_NAME


@pytest.mark.parametrize("field", FIELDS, ids=lambda f: f.name)
def test_defaults_are_allowed(field):
    assert check_value(field, field.default) == field.default
    assert getattr(Settings(), field.name) == field.default


def test_issue_ranges():
    assert (FIELD_BY_NAME["hidden_size"].low, FIELD_BY_NAME["hidden_size"].high) == (1, 256)
    assert (FIELD_BY_NAME["seq_len"].low, FIELD_BY_NAME["seq_len"].high) == (2, 2000)
    assert (FIELD_BY_NAME["spectral_radius"].low, FIELD_BY_NAME["spectral_radius"].high) == (
        0.0,
        3.0,
    )
    assert set(FIELD_BY_NAME["cells"].choices) == {
        "rnn",
        "jordan",
        "gru",
        "mgu",
        "lstm",
        "lstm_nofg",
    }


def test_default_link_is_empty_and_reads_back():
    assert Settings().to_query() == {}
    assert Settings.from_query({}) == (Settings(), [])


def test_settings_refuse_values_out_of_range():
    with pytest.raises(ValueError, match="hidden_size"):
        Settings(hidden_size=0)
    with pytest.raises(ValueError, match="cells"):
        Settings(cells=())
    with pytest.raises(ValueError, match="clip"):
        Settings().replace(clip=0.0)
    with pytest.raises(ValueError, match="no field"):
        Settings().replace(colour="red")


def test_one_to_one_runs_a_single_step():
    assert Settings(setup="one_to_one", seq_len=300).steps == 1
    assert Settings(seq_len=300).steps == 300


def test_focus_falls_back_to_a_shown_cell():
    assert Settings(cells=("gru",), focus="lstm").focus_cell == "gru"
    assert Settings(cells=("gru", "lstm"), focus="lstm").focus_cell == "lstm"


def test_matrix_applies_only_at_its_size():
    s = Settings(hidden_size=2, recurrent_matrix=((0.5, 0.0), (0.0, 0.5)))
    assert s.matrix_for_size == ((0.5, 0.0), (0.0, 0.5))
    assert s.replace(hidden_size=3).matrix_for_size is None


def test_cells_read_in_one_order_without_repeats():
    s, ignored = Settings.from_query({"cell": "lstm,rnn,lstm"})
    assert s.cells == ("rnn", "lstm") and ignored == []


def test_slider_arithmetic_is_tidied():
    assert Settings(recurrent_weight=0.9 + 0.01).recurrent_weight == 0.91
    assert Settings().replace(recurrent_weight=0.9100000000000001).to_query() == {"wh": "0.91"}


@pytest.mark.parametrize(
    ("params", "bad"),
    [
        ({"T": "abc"}, ["T"]),
        ({"T": "2001"}, ["T"]),
        ({"T": "1.5"}, ["T"]),
        ({"H": "0"}, ["H"]),
        ({"cell": "lstm,tree"}, ["cell"]),
        ({"cell": ""}, ["cell"]),
        ({"act": "swish"}, ["act"]),
        ({"bi": "maybe"}, ["bi"]),
        ({"rho": "nan"}, ["rho"]),
        ({"clip": "-1"}, ["clip"]),
        ({"Whh": "1,2;3"}, ["Whh"]),
        ({"Whh": "1,2,3,4,5;" * 5}, ["Whh"]),
        ({"zoom": "2"}, ["zoom"]),
    ],
)
def test_bad_link_values_fall_back_and_are_reported(params, bad):
    good = {"H": "8", "seed": "3"}
    s, ignored = Settings.from_query({**good, **params})
    assert ignored == bad
    assert s.hidden_size == (8 if "H" not in params else Settings().hidden_size)
    assert s.seed == 3
    for key in bad:
        field = next((f for f in FIELDS if f.key == key), None)
        if field is not None:
            assert getattr(s, field.name) == field.default


def test_off_values_read_from_a_link():
    s, ignored = Settings.from_query({"k": "off", "clip": "OFF", "rho": "off"})
    assert (s.truncation, s.clip, s.spectral_radius) == (None, None, None) and not ignored
    s, _ = Settings.from_query({"k": "5", "clip": "1e-06", "rho": "2.5"})
    assert (s.truncation, s.clip, s.spectral_radius) == (5, 1e-06, 2.5)


def test_streamlit_list_values_are_accepted():
    s, ignored = Settings.from_query({"T": ["40", "50"]})
    assert s.seq_len == 50 and not ignored


# The property (any valid Settings survives its link) is in tests/test_links.py.


# ---- presets ----------------------------------------------------------------------------


def test_first_screen_is_a_preset():
    assert matching_preset(Settings()) == DEFAULT_PRESET
    assert PRESETS[DEFAULT_PRESET].settings == Settings()
    assert set(Settings().cells) == {"rnn", "lstm"} and Settings().seq_len == 100


def test_presets_are_distinct_and_say_one_thing():
    settings_list = [p.settings for p in PRESETS.values()]
    assert len(set(settings_list)) == len(settings_list)
    for name, preset in PRESETS.items():
        assert preset.look_at.strip(), name
        assert matching_preset(preset.settings) == name


@pytest.mark.parametrize(
    ("name", "w"), [("Vanishing (w = 0.9)", 0.9), ("Exploding (w = 1.1)", 1.1)]
)
def test_the_notes_presets_are_one_linear_unit(name, w):
    s = PRESETS[name].settings
    assert s.cells == ("rnn",) and s.hidden_size == 1 and s.activation == "linear"
    assert s.recurrent_weight == w and s.setup == "many_to_one" and s.seq_len > 50


def test_the_issue_lists_every_preset():
    assert set(PRESETS) >= {
        "Vanishing (w = 0.9)",
        "Exploding (w = 1.1)",
        "Clipping tames an explosion",
        "The forget gate carries the gradient",
        "LSTM without a forget gate",
        "GRU against Elman",
        "Truncation cuts the long path",
        "Bidirectional: gradient from both ends",
        "ReLU with an identity start",
    }
