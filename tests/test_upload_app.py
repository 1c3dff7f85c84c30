"""Uploads through the app: malformed files give a sentence, never a traceback,
and change no other setting; the app keeps only what it needs (the arrays, in
a store bounded in count and bytes), and Streamlit's copies of the file go
once it is read, whatever a client puts into its session."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
import pytest
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.uploaded_file_manager import UploadedFile, UploadedFileRec
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "tests"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import malformed_npz as bad  # noqa: E402

from app import upload, upload_buffers  # noqa: E402

APP = str(ROOT / "app" / "streamlit_app.py")
W_IH = bad.Member("weight_ih.npy", bad.npy(np.zeros((4, 1))))


def uploader(at: AppTest):
    return next(u for u in at.file_uploader if u.key.startswith("weights_file_"))


def uploaded_files_in(at: AppTest) -> list:
    """Every UploadedFile the session's state still holds (widget values included)."""
    inner = at.session_state._state._state
    values = [*inner._old_state.values(), *inner._new_session_state.values()]
    return [v for v in values if isinstance(v, UploadedFile)]


HOSTILE = {
    "corrupted_deflate": (
        "w.npz",
        lambda: bad.zip_of(
            [W_IH, bad.Member("weight_hh.npy", raw=b"\xff" * 40, file_size=200, method=8)]
        ),
        "weight_hh",
    ),
    "encrypted": (
        "w.npz",
        lambda: bad.zip_of([W_IH, bad.Member("weight_hh.npy", flags=1)]),
        "encrypted",
    ),
    "raw_bytes": (
        "w.npz",
        lambda: bad.zip_of([W_IH, bad.Member("weight_hh.npy", b"\0" * 128)]),
        "not in .npy format",
    ),
    "polyglot": ("w.npz", lambda: bad.polyglot(random.Random(3)), "something else"),
    "trillion_values": (
        "w.npz",
        lambda: bad.declared_larger(random.Random(4), elements=bad.BIG),
        "declares shape",
    ),
    "zip_bomb": ("w.npz", lambda: bad.bomb(random.Random(0), case=1), "weight_hh"),
    "not_npz_name": ("notes.txt", lambda: b"hello", "not an .npz"),
    "nul_in_name": ("w\0.npz", lambda: b"", "empty"),
}


@pytest.fixture(scope="module")
def app():
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["T"] = "12"
    at.query_params["H"] = "5"
    return at.run()


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_malformed_upload_is_a_sentence_and_changes_nothing(app, case):
    name, build, expected = HOSTILE[case]
    before = dict(app.query_params)
    uploader(app).set_value((name, build(), "application/octet-stream")).run()
    assert not app.exception, app.exception
    message = " ".join(e.value for e in app.error)
    assert "was not used" in message and expected in message, message
    assert "Traceback" not in message and "\n" not in message
    assert dict(app.query_params) == before
    assert app.slider(key="hidden_size").value == 5 and app.slider(key="seq_len").value == 12
    assert uploaded_files_in(app) == []


def test_a_good_upload_leaves_no_copy_of_the_file_in_the_session():
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["T"] = "12"
    at.run()
    first = uploader(at).key
    data = bad.savez(bad.good_arrays(random.Random(5)))
    uploader(at).set_value(("w.npz", data, "application/octet-stream")).run()
    assert not at.exception and not at.error
    assert "npz" in at.query_params
    assert uploader(at).key != first  # a fresh, empty uploader
    assert uploaded_files_in(at) == []
    assert upload.recall(at.query_params["npz"]) is not None  # the arrays, kept by the app


# ---- the app's own store: bounded in count and in bytes -------------------------------


def stored(i: int, megabytes: float) -> upload.UploadedWeights:
    rows = int(megabytes * 2**20 / 8)
    arrays = {"weight_ih": np.zeros((rows, 1)), "weight_hh": np.zeros((1, 1))}
    return upload.UploadedWeights("rnn", 1, 1, False, arrays, (), f"{i:016x}")


def test_the_store_is_bounded_in_bytes():
    upload._STORE.clear()
    digests = [upload.remember(stored(1000 + i, 9.0)) for i in range(10)]  # 90 MB offered
    assert upload.stored_bytes() <= upload.MAX_STORED_BYTES
    assert upload.recall(digests[-1]) is not None  # the newest stays
    assert upload.recall(digests[0]) is None  # the oldest went
    kept = sum(upload.recall(d) is not None for d in digests)
    assert kept == upload.MAX_STORED_BYTES // stored(0, 9.0).nbytes
    # one upload larger than the bound still stays, alone
    huge = upload.remember(stored(2000, 70.0))
    assert upload.recall(huge) is not None and upload.recall(digests[-1]) is None


# ---- Streamlit's manager of uploaded files ---------------------------------------------


def rec(file_id: str, megabytes: float) -> UploadedFileRec:
    return UploadedFileRec(
        file_id, "w.npz", "application/octet-stream", bytes(int(megabytes * 2**20))
    )


def test_a_session_holds_one_unread_file_however_many_it_puts():
    manager = MemoryUploadedFileManager("/upload")
    assert upload_buffers.bound(manager)
    for i in range(5):  # five PUTs into one session, no widget asking
        manager.add_file("s", rec(f"f{i}", 4))
    assert upload_buffers.held(manager) == {"s": [("f4", 4 * 2**20)]}
    assert upload_buffers.bound(manager)  # once only: a second call changes nothing
    manager.add_file("s", rec("f5", 1))
    assert [f for f, _ in upload_buffers.held(manager)["s"]] == ["f5"]


def test_all_sessions_together_hold_at_most_the_bound(monkeypatch):
    monkeypatch.setattr(upload_buffers, "MAX_PENDING_BYTES", 10 * 2**20)
    manager = MemoryUploadedFileManager("/upload")
    upload_buffers.bound(manager)
    for i in range(6):
        manager.add_file(f"s{i}", rec("f", 3))
    held = upload_buffers.held(manager)
    assert sum(size for files in held.values() for _, size in files) <= 10 * 2**20
    assert "s5" in held and "s0" not in held  # the oldest went first


def test_files_of_sessions_gone_are_dropped():
    active = {"here"}
    manager = MemoryUploadedFileManager("/upload")
    upload_buffers.bound(manager, is_active=lambda session: session in active)
    manager.add_file("gone", rec("a", 1))
    active.discard("gone")  # its browser closed; Streamlit keeps the session for a while
    manager.add_file("here", rec("b", 1))
    assert set(upload_buffers.held(manager)) == {"here"}


def test_release_drops_every_file_of_the_session():
    manager = MemoryUploadedFileManager("/upload")
    manager.add_file("s", rec("a", 1))
    manager.add_file("s", rec("b", 1))
    manager.add_file("t", rec("c", 1))
    upload_buffers.release(manager, "s")
    assert upload_buffers.held(manager) == {"t": [("c", 2**20)]}
