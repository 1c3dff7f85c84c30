"""Bring your own weights: a PyTorch recurrent layer's ``state_dict`` as ``.npz``.

The file holds the contract's names: ``weight_ih`` (G·H, D), ``weight_hh``
(G·H, H), ``bias_ih`` and ``bias_hh`` (G·H,), and for a bidirectional layer
the same four with the suffix ``_reverse`` — PyTorch's ``state_dict`` of a
one-layer ``nn.RNN``, ``nn.GRU`` or ``nn.LSTM`` with ``_l0`` dropped from each
name. The kind follows from G = rows / H: 1 Elman (``rnn``), 3 GRU, 4 LSTM.
A layer made with ``bias=False`` has no biases: they are read as zeros.

``read_weights`` checks everything before anything is used and raises
``ValueError`` naming the array and the reason (the zip and the ``.npy``
headers are read by ``app.npz``, sizes checked before anything is read).
Accepted weights are kept in a small process-wide store under a digest of
their values, which is what ``Settings.weights`` and the link carry
(Settings stay small and hashable): the last MAX_STORED uploads, at most
MAX_STORED_BYTES of arrays; the uploaded file itself is not kept.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from app import npz, upload_store
from app.explorer.state import FIELD_BY_NAME
from app.links import DIGEST_LENGTH

MAX_BYTES = 5 * 1024 * 1024  # the file as uploaded
MAX_ARRAY_BYTES = MAX_BYTES  # one array once unzipped, as its .npy header declares
MAX_UNPACKED_BYTES = 4 * MAX_BYTES  # all its arrays once unzipped (savez_compressed)
MAX_HIDDEN = int(FIELD_BY_NAME["hidden_size"].high)
MAX_INPUT = 256
MAX_STORED = 16  # uploads the process keeps, the newest ones …
MAX_STORED_BYTES = 64 * 2**20  # … and no more than this of their arrays in all

KIND_BY_GATES = {1: "rnn", 3: "gru", 4: "lstm"}
KIND_NAMES = {"rnn": "nn.RNN", "gru": "nn.GRU", "lstm": "nn.LSTM"}
WEIGHTS = ("weight_ih", "weight_hh")
BIASES = ("bias_ih", "bias_hh")
REVERSE = "_reverse"
NAMES = tuple(n + s for s in ("", REVERSE) for n in WEIGHTS + BIASES)


@dataclass(frozen=True, eq=False)
class UploadedWeights:
    """Weights read from an upload.

    kind: "rnn", "gru" or "lstm"; hidden_size H; input_size D.
    arrays: name → float64 read-only array: weight_ih (G·H, D), weight_hh (G·H, H),
    bias_ih and bias_hh (G·H,) (zeros when the file had none), and the same with
    ``_reverse`` when ``bidirectional``.
    zero_biases: the bias names the file did not hold.
    digest: DIGEST_LENGTH hex digits of the sha256 of the names, shapes and values.
    """

    kind: str
    hidden_size: int
    input_size: int
    bidirectional: bool
    arrays: Mapping[str, np.ndarray]
    zero_biases: tuple[str, ...]
    digest: str

    @property
    def nbytes(self) -> int:
        """What the arrays hold (float64: at most 8.4 MB, a bidirectional LSTM at
        H = 256, D = 256)."""
        return sum(array.nbytes for array in self.arrays.values())

    def describe(self) -> str:
        """One line for the sidebar: what was read."""
        text = (
            f"{KIND_NAMES[self.kind]}{' (bidirectional)' if self.bidirectional else ''}: "
            f"H = {self.hidden_size} units, D = {self.input_size} input"
            f"{'s' if self.input_size != 1 else ''}"
        )
        if self.zero_biases:
            text += "; no biases in the file, so they are zeros"
        return text + "."


def read_weights(data: bytes) -> UploadedWeights:
    """Read and check an ``.npz`` upload (see the module's docstring).

    Raises ValueError saying which array is refused and why, for every file
    that is not a good export: over 5 MB, empty, not a zip or a zip that is
    also something else, damaged or truncated, encrypted, too many members,
    members in folders, twice or not ``.npy``, unknown or missing names, an
    array that needs pickle or is not float16/32/64, a header declaring more
    than the limit or than the file holds, inconsistent shapes, non-finite
    values. Sizes are checked from the zip directory and the ``.npy`` headers
    before any array is read (``app.npz``). TypeError if ``data`` is not bytes.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"read_weights takes the file's bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) > MAX_BYTES:
        raise ValueError(
            f"the file is {len(data) / 2**20:.1f} MB; the limit is {MAX_BYTES // 2**20} MB"
        )
    arrays = _load_arrays(data)
    kind, H, D = _check_shapes({name: array.shape for name, array in arrays.items()})
    bidirectional = any(name.endswith(REVERSE) for name in arrays)
    zero_biases = []
    for suffix in ("", REVERSE) if bidirectional else ("",):
        for name in BIASES:
            if name + suffix not in arrays:
                arrays[name + suffix] = np.zeros(arrays["weight_hh" + suffix].shape[0])
                zero_biases.append(name + suffix)
    for array in arrays.values():
        array.flags.writeable = False
    return UploadedWeights(
        kind=kind,
        hidden_size=H,
        input_size=D,
        bidirectional=bidirectional,
        arrays=MappingProxyType(dict(sorted(arrays.items()))),
        zero_biases=tuple(zero_biases),
        digest=_digest(arrays),
    )


def _load_arrays(data: bytes) -> dict[str, np.ndarray]:
    """name → float64 array, every name known, the weights present, every shape
    consistent (checked from the headers, before any data is read), every value finite."""
    archive, members = npz.open_archive(
        data,
        max_members=len(NAMES),
        max_member_bytes=MAX_ARRAY_BYTES,
        max_total_bytes=MAX_UNPACKED_BYTES,
    )
    names = list(members)
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        raise ValueError(
            f"unknown array name{'s' if len(unknown) > 1 else ''} "
            + ", ".join(npz.shown(n) for n in unknown)
            + _name_hint(unknown)
            + "; expected weight_ih, weight_hh, bias_ih, bias_hh (and the same with _reverse)"
        )
    reverse = any(n.endswith(REVERSE) for n in names)
    for suffix in ("", REVERSE) if reverse else ("",):
        missing = [w + suffix for w in WEIGHTS if w + suffix not in names]
        if missing:
            raise ValueError("missing array " + ", ".join(f"“{m}”" for m in missing))
    headers = {
        name: npz.read_header(archive, member, name, max_bytes=MAX_ARRAY_BYTES)
        for name, member in members.items()
    }
    _check_shapes({name: header.shape for name, header in headers.items()})
    arrays = {}
    for name, member in members.items():
        array = npz.read_array(archive, member, name, headers[name])
        bad = int(np.count_nonzero(~np.isfinite(array)))
        if bad:
            raise ValueError(
                f"array “{name}” has {bad} non-finite value{'s' if bad > 1 else ''} (nan or inf)"
            )
        arrays[name] = array
    return arrays


def _name_hint(unknown: list[str]) -> str:
    if any("_l0" in n for n in unknown):
        return " (drop “_l0” from each name: see the README)"
    if any(n.startswith("weight_") and "_l" in n for n in unknown):
        return " (only a one-layer network can be read)"
    if any("." in n for n in unknown):
        return " (save the recurrent layer's own state_dict, not the whole model's)"
    return ""


def _check_shapes(shapes: Mapping[str, tuple[int, ...]]) -> tuple[str, int, int]:
    """(kind, H, D) from the forward direction's shapes; every shape checked against them."""
    w_hh = shapes["weight_hh"]
    if len(w_hh) != 2 or w_hh[1] < 1:
        raise ValueError(f"array “weight_hh” must be 2-D (G·H, H), got shape {w_hh}")
    rows, H = w_hh
    if rows % H or rows // H not in KIND_BY_GATES:
        raise ValueError(
            f"array “weight_hh” has shape {w_hh}: its rows must be G·H with H = {H} "
            "and G = 1 (RNN), 3 (GRU) or 4 (LSTM)"
        )
    if H > MAX_HIDDEN:
        raise ValueError(f"array “weight_hh”: H = {H} units; the app takes at most {MAX_HIDDEN}")
    w_ih = shapes["weight_ih"]
    if len(w_ih) != 2 or w_ih[0] != rows or w_ih[1] < 1:
        raise ValueError(
            f"array “weight_ih” must have shape ({rows}, D) to match weight_hh, got {w_ih}"
        )
    D = w_ih[1]
    if D > MAX_INPUT:
        raise ValueError(f"array “weight_ih”: D = {D} inputs; the app takes at most {MAX_INPUT}")
    expected = {
        "weight_ih": (rows, D),
        "weight_hh": (rows, H),
        "bias_ih": (rows,),
        "bias_hh": (rows,),
    }
    for name, shape in shapes.items():
        want = expected[name.removesuffix(REVERSE)]
        if shape != want:
            raise ValueError(f"array “{name}” must have shape {want}, got {shape}")
    return KIND_BY_GATES[rows // H], H, D


def _digest(arrays: Mapping[str, np.ndarray]) -> str:
    sha = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name], dtype=np.float64)
        sha.update(f"{name}{array.shape}".encode())
        sha.update(array.tobytes())
    return sha.hexdigest()[:DIGEST_LENGTH]


# ---- the process-wide store ---------------------------------------------------------

_STORE: OrderedDict[str, UploadedWeights] = OrderedDict()
_LOCK = threading.Lock()


def remember(weights: UploadedWeights, data: bytes | None = None) -> str:
    """Keep ``weights``; the oldest uploads go past MAX_STORED of them or
    MAX_STORED_BYTES of arrays (the newest always stays). Its digest.

    data: the file they were read from; with a shared store
    (``app.upload_store``) it is written there too, for the other replicas."""
    with _LOCK:
        _STORE[weights.digest] = weights
        _STORE.move_to_end(weights.digest)
        while len(_STORE) > 1 and (len(_STORE) > MAX_STORED or _stored_bytes() > MAX_STORED_BYTES):
            _STORE.popitem(last=False)
    shared = upload_store.from_environment()
    if shared is not None and data is not None:
        shared.put(weights.digest, data)
    return weights.digest


def stored_bytes() -> int:
    """What the store's arrays hold now."""
    with _LOCK:
        return _stored_bytes()


def _stored_bytes() -> int:
    return sum(weights.nbytes for weights in _STORE.values())


def recall(digest: str | None) -> UploadedWeights | None:
    """The uploaded weights with this digest, if this process or the shared
    store holds them."""
    if digest is None:
        return None
    with _LOCK:
        weights = _STORE.get(digest)
        if weights is not None:
            _STORE.move_to_end(digest)
            return weights
    return _recall_shared(digest)


def _recall_shared(digest: str) -> UploadedWeights | None:
    """Read ``digest`` back from the shared store, checked like any upload."""
    shared = upload_store.from_environment()
    data = None if shared is None else shared.get(digest)
    if data is None:
        return None
    try:
        weights = read_weights(data)
    except ValueError:
        return None
    if weights.digest != digest:  # not what its name says: never use it
        return None
    remember(weights)
    return weights
