"""Malformed ``.npz`` uploads, built byte by byte, for the fuzz test
(``tests/test_upload_fuzz.py``) and the counting harness (``bench/upload_fuzz.py``).

``zip_of`` writes a zip with every field under the caller's control (sizes,
checksums, flags, methods, what lies before and after), so a file can lie in
any way a hostile one could. ``npy_of`` writes an ``.npy`` member with any
header text. ``malformed(rng)`` draws one malformed file of a random family
(``FAMILIES``) from a ``random.Random``; each family's builder is also used
alone by the hypothesis strategies.
"""

from __future__ import annotations

import functools
import io
import random
import struct
import zlib
from dataclasses import dataclass

import numpy as np

STORED, DEFLATED = 0, 8
GATES = {"rnn": 1, "gru": 3, "lstm": 4}
BIG = 10**12  # elements an .npy header may claim (7.28 TiB of float64)
BOMB_BYTES = 2**30  # what the zip bomb inflates to

ODD_DTYPES = (
    "object",
    "<i8",
    "<i4",
    "|u1",
    "|b1",
    "<c8",
    "<c16",
    "<U5",
    "|S5",
    "<M8[s]",
    "<m8[s]",
    "|V8",
    "<f16",  # long double: its layout is the machine's
    [("a", "<f8"), ("b", "<i4")],
)


@dataclass
class Member:
    """One zip member. ``payload`` is what it unpacks to; ``raw`` (default: the
    payload, deflated when ``method`` is 8) what the zip holds. ``file_size`` and
    ``crc`` default to the payload's true size and CRC-32."""

    name: str
    payload: bytes = b""
    method: int = STORED
    flags: int = 0
    file_size: int | None = None
    crc: int | None = None
    raw: bytes | None = None


def deflate(data: bytes, level: int = 6) -> bytes:
    packer = zlib.compressobj(level, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


def zip_of(
    members: list[Member],
    *,
    prefix: bytes = b"",
    suffix: bytes = b"",
    comment: bytes = b"",
    repeat_directory: int = 1,
    entries: int | None = None,
) -> bytes:
    """A zip of ``members`` (in order, names as given, duplicates kept), ``prefix``
    before it and ``suffix`` after its end record; each central-directory entry
    written ``repeat_directory`` times (all pointing at the same member); the end
    record says ``entries`` entries (default: the true count, at most 65,535)."""
    local, central = io.BytesIO(), io.BytesIO()
    local.write(prefix)
    count = 0
    for member in members:
        name = member.name.encode("utf-8")
        raw = member.raw
        if raw is None:
            raw = deflate(member.payload) if member.method == DEFLATED else member.payload
        size = len(member.payload) if member.file_size is None else member.file_size
        crc = zlib.crc32(member.payload) if member.crc is None else member.crc
        fields = (20, member.flags, member.method, 0, 0x21, crc, len(raw), size, len(name), 0)
        offset = local.tell() - len(prefix)
        local.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", *fields) + name + raw)
        entry = struct.pack(
            "<4s6H3L5HLL", b"PK\x01\x02", 20, *fields, 0, 0, 0, 0, offset & 0xFFFFFFFF
        )
        for _ in range(repeat_directory):
            central.write(entry + name)
            count += 1
    directory = central.getvalue()
    start = local.tell() - len(prefix)
    count = min(count, 0xFFFF) if entries is None else entries
    end = struct.pack(
        "<4s4H2LH",
        b"PK\x05\x06",
        0,
        0,
        count,
        count,
        len(directory),
        start,
        len(comment),
    )
    return local.getvalue() + directory + end + comment + suffix


def npy_of(header: str | dict, data: bytes = b"", *, version: tuple[int, int] = (1, 0)) -> bytes:
    """An ``.npy`` file: magic, ``version``, the header (a dict is written as numpy
    writes it; a string as given, padded) and ``data``."""
    text = header if isinstance(header, str) else repr(header)
    text += " " * (-(len(text) + 11) % 64) + "\n"
    length = struct.pack("<H" if version[0] == 1 else "<I", len(text))
    return b"\x93NUMPY" + bytes(version) + length + text.encode("latin1") + data


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def good_arrays(rng: random.Random) -> dict[str, np.ndarray]:
    """A one-layer export as the README writes it: random kind, H, D, direction(s),
    biases or none, float32 or float64."""
    kind = rng.choice(tuple(GATES))
    H, D = rng.randint(1, 5), rng.randint(1, 3)
    dtype = rng.choice((np.float32, np.float64))
    values = np.random.default_rng(rng.getrandbits(32))
    rows = GATES[kind] * H
    arrays = {}
    for suffix in ("", "_reverse") if rng.random() < 0.3 else ("",):
        arrays["weight_ih" + suffix] = values.uniform(-1, 1, (rows, D)).astype(dtype)
        arrays["weight_hh" + suffix] = values.uniform(-1, 1, (rows, H)).astype(dtype)
        if rng.random() < 0.8:
            arrays["bias_ih" + suffix] = values.uniform(-1, 1, rows).astype(dtype)
            arrays["bias_hh" + suffix] = values.uniform(-1, 1, rows).astype(dtype)
    return arrays


def savez(arrays: dict[str, np.ndarray], *, compressed: bool = False) -> bytes:
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    return buffer.getvalue()


def good_file(rng: random.Random) -> bytes:
    return savez(good_arrays(rng), compressed=rng.random() < 0.5)


def members_of(arrays: dict[str, np.ndarray], method: int = STORED) -> list[Member]:
    return [Member(name + ".npy", npy(a), method) for name, a in arrays.items()]


# ---- the families ----------------------------------------------------------------------


def random_bytes(rng: random.Random) -> bytes:
    size = rng.choice((0, rng.randint(1, 8), rng.randint(9, 200), rng.randint(200, 20_000)))
    start = rng.choice((b"", b"PK\x03\x04", b"\x93NUMPY\x01\x00", b"PK\x05\x06"))
    return start + rng.randbytes(size)


def truncated(rng: random.Random) -> bytes:
    data = good_file(rng)
    cut = rng.choice(
        (
            rng.randint(0, 10),
            rng.randint(10, 120),
            rng.randint(0, len(data) - 1),
            rng.randint(len(data) - 40, len(data) - 1),
        )
    )
    return data[:cut]


def corrupted(rng: random.Random) -> bytes:
    data = bytearray(good_file(rng))
    for _ in range(rng.randint(1, 8)):
        at = rng.randrange(len(data))
        data[at] = data[at] ^ (1 << rng.randrange(8)) if rng.random() < 0.5 else rng.randrange(256)
    return bytes(data)


def odd_dtype(rng: random.Random) -> bytes:
    arrays = good_arrays(rng)
    name = rng.choice(sorted(arrays))
    dtype = np.dtype(rng.choice(ODD_DTYPES))
    shape = arrays[name].shape
    if dtype.hasobject:
        odd = np.empty(shape, dtype=object)
        odd.flat[:] = [{"x": i} for i in range(odd.size)]
    else:
        odd = np.zeros(shape, dtype=dtype)
    arrays[name] = odd
    return savez(arrays, compressed=rng.random() < 0.5)


def declared_larger(rng: random.Random, *, elements: int | None = None) -> bytes:
    """An array whose header declares more values than its data holds."""
    arrays = good_arrays(rng)
    name = rng.choice(sorted(arrays))
    real = arrays[name]
    if elements is None:
        elements = rng.choice((real.size + 1, real.size * rng.randint(2, 1000), BIG))
    shape = rng.choice(((elements,), (1, elements), (elements // 1000 or 1, 1000)))
    header = {"descr": real.dtype.str, "fortran_order": False, "shape": shape}
    method = rng.choice((STORED, DEFLATED))
    members = [m for m in members_of(arrays, method) if m.name != name + ".npy"]
    members.append(Member(name + ".npy", npy_of(header, real.tobytes()), method))
    rng.shuffle(members)
    return zip_of(members)


HEADERS = (
    "{'descr': '<f8', 'fortran_order': False}",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (4, 4), 'x': 1}",
    "{'descr': '<f8', 'fortran_order': False, 'shape': [4, 4]}",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (-4, 4)}",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (4.0, 4)}",
    "{'descr': '<f8', 'fortran_order': 'no', 'shape': (4, 4)}",
    "{'descr': 'x', 'fortran_order': False, 'shape': (4, 4)}",
    "{'descr': '|O', 'fortran_order': False, 'shape': (4, 4)}",
    "{'descr': 7, 'fortran_order': False, 'shape': (4, 4)}",
    "{'descr': [('a', '<f8', (10**9,))], 'fortran_order': False, 'shape': (1,)}",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (" + "(" * 300 + ")" * 300 + ",)}",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (4, 4)",
    "[1, 2, 3]",
    "__import__('os').system('true')",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (" + "9" * 500 + ",)}",
)


def bad_header(rng: random.Random) -> bytes:
    arrays = good_arrays(rng)
    name = rng.choice(sorted(arrays))
    data = arrays[name].astype("<f8").tobytes()
    choice = rng.randrange(len(HEADERS) + 3)
    if choice < len(HEADERS):
        member = npy_of(HEADERS[choice], data, version=rng.choice(((1, 0), (2, 0))))
    elif choice == len(HEADERS):  # an unknown format version
        member = npy_of({"descr": "<f8", "fortran_order": False, "shape": (1,)}, data[:8])
        member = member[:6] + bytes((rng.randint(3, 255), rng.randint(0, 255))) + member[8:]
    elif choice == len(HEADERS) + 1:  # a header longer than the member
        member = b"\x93NUMPY\x02\x00" + struct.pack("<I", 2**32 - 1) + b"{'descr'"
    else:  # the header's text as random bytes
        member = b"\x93NUMPY\x01\x00" + struct.pack("<H", 64) + rng.randbytes(64) + data
    members = [m for m in members_of(arrays) if m.name != name + ".npy"]
    members.append(Member(name + ".npy", member, rng.choice((STORED, DEFLATED))))
    return zip_of(members)


def bad_structure(rng: random.Random) -> bytes:
    arrays = good_arrays(rng)
    members = members_of(arrays, rng.choice((STORED, DEFLATED)))
    target = rng.randrange(len(members))
    case = rng.randrange(12)
    if case == 0:  # encrypted (the flag; no real cipher needed to be refused)
        members[target].flags |= 1
    elif case == 1:  # a compression method savez never writes (bzip2, lzma, AES, unknown)
        members[target].method = rng.choice((1, 9, 12, 14, 93, 99, 0xFFFF))
        members[target].raw = members[target].payload
    elif case == 2:  # the same name twice
        members.append(members[target])
    elif case == 3:  # in a folder
        members[target].name = rng.choice(("w/", "../", "a/b/", "C:\\")) + members[target].name
    elif case == 4:  # more members than an export has
        members += [Member(f"x{i}.npy", npy(np.zeros(1))) for i in range(rng.randint(9, 200))]
    elif case == 5:  # raw bytes rather than .npy
        members[target].payload = members[target].raw = rng.randbytes(rng.randint(0, 300))
        members[target].method = STORED
    elif case == 6:  # another file
        members.append(Member(rng.choice(("readme.txt", "weights", ".npy", "a.npy.txt"))))
    elif case == 7:  # no members at all
        members = []
    elif case == 8:  # a wrong checksum
        members[target].crc = rng.getrandbits(32)
    elif case == 9:  # a directory that lies about the size
        true = len(members[target].payload)
        members[target].file_size = rng.choice((0, true - 1, true + 1, true * 2, 2**31))
    elif case == 10:  # a corrupted deflate stream
        member = members[target]
        member.method = DEFLATED
        raw = bytearray(deflate(member.payload))
        raw[rng.randrange(len(raw))] ^= 0xFF
        member.raw = bytes(raw)
    else:  # one member listed 80,000 times in the directory
        return zip_of(members[:1], repeat_directory=80_000, entries=rng.choice((None, 1)))
    return zip_of(members)


def polyglot(rng: random.Random) -> bytes:
    """A zip that is also something else: bytes before it, after it, or both."""
    arrays = good_arrays(rng)
    inner = members_of(arrays)
    others = (
        npy(np.arange(6.0)),  # a valid .npy (numpy.load reads the file as one)
        b"\x89PNG\r\n\x1a\n" + rng.randbytes(40),
        b"GIF89a" + rng.randbytes(30),
        b"%PDF-1.4\n" + rng.randbytes(30),
        rng.randbytes(rng.randint(1, 100)),
    )
    other = rng.choice(others)
    where = rng.randrange(3)
    if where == 0:
        return zip_of(inner, prefix=other)
    if where == 1:
        return zip_of(inner, suffix=other)
    return zip_of(inner, prefix=other, suffix=rng.randbytes(16))


@functools.cache
def _deflated_megabyte_of_zeros() -> bytes:
    """A MB of zeros as raw deflate blocks that stand alone (after a full flush
    they refer to nothing before them), so repeating them inflates to that many MB."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(bytes(2**20)) + packer.flush(zlib.Z_FULL_FLUSH)


@functools.cache
def _inflating_zeros(header: bytes) -> tuple[bytes, int]:
    """``header`` then BOMB_BYTES of zeros, deflated (about 1 MB); with its CRC-32."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = packer.compress(header) + packer.flush(zlib.Z_FULL_FLUSH)
    megabytes = BOMB_BYTES // 2**20
    raw = start + _deflated_megabyte_of_zeros() * megabytes + b"\x03\x00"  # an empty last block
    crc, chunk = zlib.crc32(header), bytes(2**20)
    for _ in range(megabytes):
        crc = zlib.crc32(chunk, crc)
    return raw, crc


def bomb(rng: random.Random, *, case: int | None = None) -> bytes:
    """A small zip whose ``weight_hh`` inflates to 1 GB: its directory telling the
    truth (0), lying (1: a 16×16 array; 2: the header claims BIG values)."""
    case = rng.randrange(3) if case is None else case
    shape = (16, 16) if case == 1 else (BIG,) if case == 2 else (2**27 - 16,)
    header = npy_of({"descr": "<f8", "fortran_order": False, "shape": shape})
    raw, crc = _inflating_zeros(header)
    declared = len(header) + BOMB_BYTES if case == 0 else len(header) + 16 * 16 * 8
    w_ih = Member("weight_ih.npy", npy(np.zeros((16, 1))))
    w_hh = Member("weight_hh.npy", method=DEFLATED, file_size=declared, crc=crc, raw=raw)
    return zip_of([w_ih, w_hh])


FAMILIES = {
    "random bytes": random_bytes,
    "truncated": truncated,
    "corrupted": corrupted,
    "odd dtype": odd_dtype,
    "declared shape larger than the data": declared_larger,
    "damaged .npy header": bad_header,
    "zip structure": bad_structure,
    "polyglot": polyglot,
    "zip bomb": bomb,
}


def malformed(rng: random.Random) -> tuple[str, bytes]:
    """One malformed file of a family drawn at random: (family, bytes)."""
    family = rng.choice(tuple(FAMILIES))
    return family, FAMILIES[family](rng)
