"""Malformed uploads: every one is refused with a ValueError whose sentence names
what is wrong, within a bounded amount of memory, and never unpickled.

The files are built byte by byte (``tests/malformed_npz.py``); hypothesis
draws the damage: random bytes, a good export cut at any length, bytes of
it changed, odd dtypes, shapes declared larger than the data, damaged
``.npy`` headers, zip structures numpy.savez never writes, polyglots. The
zip bombs (a 1 MB file that inflates to 1 GB) and the 10¹²-element header
are fixed cases. Memory is tracemalloc's peak during the call, which counts
NumPy's array buffers and every bytes object zlib makes.
"""

from __future__ import annotations

import pickle
import random
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "tests"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import malformed_npz as bad  # noqa: E402

from app import upload  # noqa: E402

MEMORY_BOUND = 24 * 2**20  # bytes one call may hold at its peak, the upload not counted
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
seeds = st.integers(0, 2**32 - 1)
W_IH = bad.Member("weight_ih.npy", bad.npy(np.zeros((4, 1))))  # a good weight_ih, H = 4


def outcome(data: bytes):
    """(the weights, or the refusal's message; the call's peak traced bytes).
    Anything but a ValueError propagates and fails the test."""
    tracemalloc.start()
    try:
        result = upload.read_weights(data)
    except ValueError as error:
        result = str(error)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"{peak / 2**20:.1f} MB at the peak"
    return result


def refusal(data: bytes) -> str:
    result = outcome(data)
    assert isinstance(result, str), f"accepted: {result.describe()}"
    assert_a_sentence(result)
    return result


def assert_a_sentence(message: str) -> None:
    """Short, one line, no Python internals: the app shows it as is."""
    assert message and "\n" not in message and len(message) < 400, message
    for internal in ("Traceback", "Error:", "<class", "0x7f", "__"):
        assert internal not in message, message


# ---- drawn by hypothesis ---------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=3000), st.sampled_from((b"", b"PK\x03\x04", b"\x93NUMPY\x01\x00")))
def test_random_bytes(data, start):
    refusal(start + data)


@FUZZ
@given(seeds, st.data())
def test_a_good_export_cut_anywhere(seed, data):
    good = bad.good_file(random.Random(seed))
    cut = data.draw(st.integers(0, len(good) - 1), label="cut")
    refusal(good[:cut])


@FUZZ
@given(
    seeds,
    st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8
    ),
)
def test_changed_bytes_are_refused_or_change_nothing(seed, changes):
    rng = random.Random(seed)
    arrays = bad.good_arrays(rng)
    good = bad.savez(arrays, compressed=rng.random() < 0.5)
    data = bytearray(good)
    for where, value in changes:
        data[int(where * len(data))] = value
    result = outcome(bytes(data))
    if isinstance(result, str):
        assert_a_sentence(result)
    else:  # the change hit a byte nothing reads (a timestamp, a version): same values
        assert set(result.arrays) >= set(arrays)
        for name, array in arrays.items():
            assert np.array_equal(result.arrays[name], array.astype(np.float64)), name


@FUZZ
@given(seeds, st.sampled_from(range(len(bad.ODD_DTYPES))))
def test_odd_dtypes_name_the_array(seed, which):
    rng = random.Random(seed)
    arrays = bad.good_arrays(rng)
    name = rng.choice(sorted(arrays))
    dtype = np.dtype(bad.ODD_DTYPES[which])
    odd = np.zeros(arrays[name].shape, dtype=dtype) if not dtype.hasobject else None
    if odd is None:
        odd = np.empty(arrays[name].shape, dtype=object)
    arrays[name] = odd
    message = refusal(bad.savez(arrays, compressed=rng.random() < 0.5))
    assert f"“{name}”" in message
    assert "pickle" in message if dtype.hasobject else ("dtype" in message), message


@FUZZ
@given(seeds, st.integers(1, 10**13))
def test_shapes_declared_larger_than_the_data(seed, extra):
    rng = random.Random(seed)
    data = bad.declared_larger(rng, elements=16 + extra)
    message = refusal(data)
    assert "declares shape" in message, message


@FUZZ
@given(st.text(st.characters(max_codepoint=255), max_size=400), st.sampled_from(((1, 0), (2, 0))))
def test_any_header_text(text, version):
    member = bad.npy_of(text.replace("\x00", ""), bytes(64), version=version)
    data = bad.zip_of(
        [
            bad.Member("weight_ih.npy", bad.npy(np.zeros((4, 1)))),
            bad.Member("weight_hh.npy", member),
        ]
    )
    message = refusal(data)
    assert "weight_hh" in message, message


@FUZZ
@given(seeds)
def test_damaged_headers(seed):
    refusal(bad.bad_header(random.Random(seed)))


@FUZZ
@given(seeds)
def test_zip_structures_savez_never_writes(seed):
    refusal(bad.bad_structure(random.Random(seed)))


@FUZZ
@given(seeds)
def test_polyglots_are_refused(seed):
    message = refusal(bad.polyglot(random.Random(seed)))
    assert "something else" in message, message


# ---- fixed cases -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "case", [0, 1, 2], ids=["honest_directory", "lying_directory", "huge_header"]
)
def test_a_zip_bomb_never_inflates(case):
    data = bad.bomb(random.Random(0), case=case)
    assert len(data) < 1.1 * 2**20  # 1 MB that inflates to 1 GB
    message = refusal(data)
    assert "weight_hh" in message


def test_a_header_of_a_trillion_values_is_refused_from_the_header():
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)}
    data = bad.zip_of(
        [
            W_IH,
            bad.Member("weight_hh.npy", bad.npy_of(header, bytes(128)), bad.DEFLATED),
        ]
    )
    message = refusal(data)
    assert "weight_hh" in message and "(1000000, 1000000)" in message and "TiB" in message


def test_a_pickle_is_never_loaded(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("unpickled")

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    arrays = {"weight_ih": np.zeros((2, 1)), "weight_hh": np.empty((2, 2), dtype=object)}
    assert "pickle" in refusal(bad.savez(arrays))


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        ([bad.Member("weight_hh.npy", flags=1)], "encrypted"),
        ([bad.Member("weight_hh.npy", b"\x01\x02raw", method=12, raw=b"x")], "zip method 12"),
        ([W_IH, bad.Member("weight_hh.npy", b"raw float bytes" * 8)], "not in .npy format"),
        ([bad.Member("w/weight_hh.npy")], "folder"),
        ([bad.Member("weight_hh.npy"), bad.Member("weight_hh.npy")], "twice"),
        ([bad.Member(f"a{i}.npy") for i in range(9)], "at most 8"),
        ([], "empty zip"),
    ],
    ids=["encrypted", "bzip2", "raw_bytes", "nested", "duplicate", "too_many", "empty_zip"],
)
def test_each_structural_refusal_says_what(members, expected):
    assert expected in refusal(bad.zip_of(members))


@pytest.mark.parametrize("entries", [None, 1], ids=["told", "hidden"])
def test_a_directory_of_eighty_thousand_entries_is_counted_not_read(entries):
    """However many entries the end record admits to, the directory is counted
    (cheaply) before the zip library builds an object for each."""
    member = bad.Member("weight_hh.npy", bad.npy(np.zeros(1)))
    data = bad.zip_of([member], repeat_directory=80_000, entries=entries)
    assert 4 * 2**20 < len(data) < upload.MAX_BYTES
    assert "at most 8" in refusal(data)


def test_a_corrupted_deflate_stream_is_named():
    member = bad.Member("weight_hh.npy", bad.npy(np.zeros((4, 4))), bad.DEFLATED)
    raw = bytearray(bad.deflate(member.payload))
    raw[2] ^= 0xFF
    member.raw = bytes(raw)
    message = refusal(bad.zip_of([W_IH, member]))
    assert "weight_hh" in message and "damaged" in message


# ---- what is still read ----------------------------------------------------------------


@pytest.mark.parametrize("order", ["big_endian", "fortran", "float16"])
def test_unusual_but_plain_float_layouts_are_read_exactly(order):
    arrays = bad.good_arrays(random.Random(7))
    if order == "big_endian":
        written = {k: v.astype(v.dtype.newbyteorder(">")) for k, v in arrays.items()}
    elif order == "fortran":
        written = {k: np.asfortranarray(v) for k, v in arrays.items()}
    else:
        written = arrays = {k: v.astype(np.float16) for k, v in arrays.items()}
    weights = upload.read_weights(bad.savez(written, compressed=True))
    for name, array in arrays.items():
        assert np.array_equal(weights.arrays[name], array.astype(np.float64)), name
        assert weights.arrays[name].flags.c_contiguous
