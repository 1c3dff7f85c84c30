"""Uploaded files in a folder that every replica of the app reads.

A link to uploaded weights names them by a digest of their values. On a
classroom of several replicas (``make classroom``) or a cluster, the student
who opens that link may land on another process than the one that received
the file, so each accepted upload is also written here, under its digest, and
a process that does not hold a digest looks here before it gives up.

The folder is ``GFL_UPLOAD_STORE`` (no folder, and so nothing shared, when it
is unset). It holds at most ``GFL_UPLOAD_STORE_MB`` megabytes (default 256):
past that the files read least recently go first. Files are written under a
temporary name and renamed, so a reader never sees half a file; what is read
back is checked again like any upload, and its digest must match its name.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path

STORE_ENV = "GFL_UPLOAD_STORE"
BOUND_ENV = "GFL_UPLOAD_STORE_MB"
DEFAULT_MB = 256
SUFFIX = ".npz"
_DIGEST = re.compile(r"[0-9a-f]{1,64}")


class FolderStore:
    """Files by digest in ``folder``, at most ``max_bytes`` of them together."""

    def __init__(self, folder: Path, max_bytes: int):
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.folder.mkdir(parents=True, exist_ok=True)

    def put(self, digest: str, data: bytes) -> None:
        path = self._path(digest)
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".incoming-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            return  # a full or read-only disk costs sharing, not the upload
        self._trim()

    def get(self, digest: str) -> bytes | None:
        path = self._path(digest)
        try:
            data = path.read_bytes()
            os.utime(path)  # read recently: trimmed last
        except OSError:
            return None
        return data

    def held_bytes(self) -> int:
        return sum(size for _, size, _ in self._files())

    def _path(self, digest: str) -> Path:
        if not _DIGEST.fullmatch(digest):
            raise ValueError(f"digest must be lower-case hex digits, got {digest!r}")
        return self.folder / (digest + SUFFIX)

    def _files(self) -> list[tuple[float, int, Path]]:
        found = []
        for path in self.folder.glob("*" + SUFFIX):
            with contextlib.suppress(OSError):
                info = path.stat()
                found.append((info.st_mtime, info.st_size, path))
        return sorted(found)

    def _trim(self) -> None:
        files = self._files()
        total = sum(size for _, size, _ in files)
        for _, size, path in files:
            if total <= self.max_bytes:
                break
            with contextlib.suppress(OSError):
                path.unlink()
            total -= size


def from_environment() -> FolderStore | None:
    """The store ``GFL_UPLOAD_STORE`` names, or None when it names none."""
    folder = os.environ.get(STORE_ENV)
    if not folder:
        return None
    try:
        megabytes = float(os.environ.get(BOUND_ENV) or DEFAULT_MB)
    except ValueError:
        megabytes = DEFAULT_MB
    try:
        return FolderStore(Path(folder), int(megabytes * 1024 * 1024))
    except OSError:
        return None
