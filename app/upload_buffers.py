"""Streamlit's own copies of uploaded files, held as briefly and as little as possible.

Streamlit (1.67) keeps every file a browser PUTs to ``/_stcore/upload_file``
in its ``MemoryUploadedFileManager``, per session, until that session is shut
down. Two things make that unbounded: a client holding the page's XSRF
cookie can PUT any number of files (each up to ``server.maxUploadSize``)
without any widget asking for them; and a session whose browser goes away
is kept for reconnection and later dropped from Streamlit's session store
without being shut down, so its files stay in the manager for the life of
the process. And the ``UploadedFile`` a widget returns stays in Session
State, holding the bytes, as long as the widget keeps its key.

The app reads an upload once, in the uploader's callback, and keeps only the
arrays (``app.upload``'s store). Then:

- ``release``: the session's files leave the manager at once (``remove_session_files``),
  and the caller gives the uploader a new key, so the old widget's
  ``UploadedFile`` leaves Session State at the end of that run;
- ``bound``: the manager itself (one per server) keeps, after each PUT, at
  most ``FILES_PER_SESSION`` files per session and ``MAX_PENDING_BYTES`` in
  all (the oldest go first), and none for sessions that are no longer
  connected. A file is only ever waiting there between its PUT and the rerun
  that reads it, usually well under a second.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable

FILES_PER_SESSION = 1  # the uploader takes one file; a newer PUT replaces it
MAX_PENDING_BYTES = 64 * 2**20  # all sessions' unread files together
_BOUND_MARK = "_gradient_flow_lab_bound"


def bound(manager, is_active: Callable[[str], bool] | None = None) -> bool:
    """Make ``manager`` (a ``MemoryUploadedFileManager``) trim itself after each
    file added; once per manager. ``is_active(session_id)``: whether a session
    is still connected (None: all are). False when the manager is not one whose
    files can be listed and removed (then it is left as it is)."""
    if getattr(manager, _BOUND_MARK, False):
        return True
    if not all(hasattr(manager, n) for n in ("add_file", "remove_file", "file_storage")):
        return False
    add_file = manager.add_file
    arrivals: collections.deque[tuple[str, str]] = collections.deque()
    lock = threading.Lock()

    def add_and_trim(session_id: str, file) -> None:
        add_file(session_id, file)
        with lock:
            arrivals.append((session_id, file.file_id))
            _trim(manager, session_id, arrivals, is_active)

    manager.add_file = add_and_trim
    setattr(manager, _BOUND_MARK, True)
    return True


def held(manager) -> dict[str, list[tuple[str, int]]]:
    """session id → [(file id, bytes)] the manager holds now (a snapshot)."""
    with getattr(manager, "_lock", threading.Lock()):
        return {
            session: [(file_id, len(rec.data)) for file_id, rec in files.items()]
            for session, files in manager.file_storage.items()
            if files
        }


def release(manager, session_id: str) -> None:
    """Drop every file ``session_id`` holds in ``manager`` (after the app read one)."""
    remove = getattr(manager, "remove_session_files", None)
    if remove is not None:
        remove(session_id)


def _trim(manager, session_id, arrivals, is_active) -> None:
    holding = held(manager)
    if is_active is not None:
        for other in holding:
            if other != session_id and not is_active(other):
                manager.remove_session_files(other)
        holding = held(manager)
    for file_id, _ in holding.get(session_id, [])[:-FILES_PER_SESSION]:
        manager.remove_file(session_id, file_id)
    with getattr(manager, "_lock", threading.Lock()):
        empty = [session for session, files in manager.file_storage.items() if not files]
    for session in empty:  # no dict left behind per session
        manager.remove_session_files(session)
    holding = held(manager)
    present = {(s, f): size for s, files in holding.items() for f, size in files}
    total = sum(present.values())
    kept = [arrival for arrival in arrivals if arrival in present]  # the rest were read
    arrivals.clear()
    for arrival in kept:  # oldest first
        if total > MAX_PENDING_BYTES:
            manager.remove_file(*arrival)
            total -= present[arrival]
        else:
            arrivals.append(arrival)


def bound_this_server() -> bool:
    """``bound`` the manager of the server running this script (under AppTest,
    the test's own manager; outside a script run, nothing)."""
    from streamlit import runtime
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None:
        return False
    is_active = runtime.get_instance().is_active_session if runtime.exists() else None
    return bound(ctx.uploaded_file_mgr, is_active)


def release_this_session() -> None:
    """``release`` the files the session running this script holds."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is not None:
        release(ctx.uploaded_file_mgr, ctx.session_id)
