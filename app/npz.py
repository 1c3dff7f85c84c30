"""A strict, bounded reader of ``.npz`` files from strangers (``numpy.savez``'s zip
of ``.npy`` arrays), for ``app.upload``.

``numpy.load`` trusts its input more than an upload deserves: it allocates
whatever shape a header declares before reading a byte of data, lets the zip
library's own errors through, and reads a file that starts like an ``.npy``
as one even when it ends as a zip. Here every step is checked before the
next and each refusal is a ``ValueError`` whose sentence says what is wrong:

1. the file (``open_archive``): a zip from its first byte to its last, so a
   file that is also something else (a polyglot) is refused; at most
   ``max_members`` members, counted in the central directory before the zip
   library reads it; each member at the top level, named ``*.npy`` once, not
   encrypted, stored or deflated (what ``savez`` and ``savez_compressed``
   write), its declared size within the limits;
2. each member's ``.npy`` header (``read_header``), parsed with
   ``numpy.lib.format`` from a few hundred bytes: a little- or big-endian
   float16/32/64 array whose declared shape × item size is within the limit
   and equals what the zip directory says the member holds;
3. its data (``read_array``): exactly that many bytes, inflated with a cap (so
   a member that inflates past what the directory says, a zip bomb, stops at
   the declared size and fails its checksum), then ``numpy.frombuffer``:
   nothing is unpickled, nothing larger than declared is allocated.

The zip and ``.npy`` parsers raise many kinds of errors on damaged input
(``zlib.error``, ``zipfile.BadZipFile``, ``EOFError``, ``struct.error``,
``NotImplementedError``, ``UnicodeDecodeError``, …); each is turned into a
sentence naming the member, so a damaged file never shows a traceback.
"""

from __future__ import annotations

import io
import math
import struct
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np
from numpy.lib import format as npy_format

EOCD = b"PK\x05\x06"  # the zip's end-of-central-directory record
EOCD_SIZE = 22
CENTRAL_ENTRY = b"PK\x01\x02"
CENTRAL_ENTRY_SIZE = 46
LOCAL_HEADER = b"PK\x03\x04"
MAX_COMMENT = 0xFFFF
ENCRYPTED = 0x1  # general-purpose flag bits
METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
MAX_HEADER_BYTES = 10_000  # numpy's own limit for a header read without trust
FLOATS = ("float16", "float32", "float64")


class Refusal(ValueError):
    """A refusal this module words itself (as opposed to a parser's ValueError)."""


READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    struct.error,
    NotImplementedError,
    RuntimeError,
    UnicodeDecodeError,
    KeyError,
    IndexError,
    TypeError,
    OverflowError,
)


def shown(name: str, limit: int = 40) -> str:
    """A member's name as a message quotes it: short, control characters escaped."""
    text = name if len(name) <= limit else name[: limit - 1] + "…"
    return "“" + "".join(c if c.isprintable() else repr(c)[1:-1] for c in text) + "”"


def megabytes(size: int) -> str:
    """``size`` bytes in MB, or TiB when huge (any int: header shapes can be absurd)."""
    if size < 2**40:
        return f"{size / 2**20:.1f} MB"
    if size < 2**60:
        return f"{size / 2**40:,.2f} TiB"
    return f"{number(size // 2**40)} TiB"


def shown_shape(shape: tuple[int, ...], limit: int = 60) -> str:
    text = str(tuple(shape))
    return text if len(text) <= limit else text[: limit - 2] + "…)"


def number(n: int) -> str:
    """``n`` with thousands separators, or as a power of ten past 10¹⁵."""
    return f"{n:,}" if n < 10**15 else f"about 10^{len(str(n)) - 1}"


@dataclass(frozen=True)
class NpyHeader:
    """One member's ``.npy`` header: ``shape``, ``dtype`` (a float), ``fortran_order``,
    and ``offset`` the bytes before the data; ``nbytes`` the data's size."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    offset: int

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def open_archive(
    data: bytes, *, max_members: int, max_member_bytes: int, max_total_bytes: int
) -> tuple[zipfile.ZipFile, dict[str, zipfile.ZipInfo]]:
    """The zip in ``data`` and its members by array name (the member's name
    without ``.npy``), every member checked as the module's step 1 says."""
    not_npz = "this is not an .npz file (a zip of .npy arrays, as numpy.savez writes)"
    if not data:
        raise Refusal("the file is empty: " + not_npz)
    two_formats = (
        not_npz + ": it holds something else before or after its zip part "
        "(a file of two formats at once is not read)"
    )
    end = _end_record(data)
    if end is None:
        if EOCD in data:
            raise Refusal(two_formats)
        if data.startswith(npy_format.MAGIC_PREFIX):
            raise Refusal(not_npz + "; it is a single .npy array: save with numpy.savez")
        raise Refusal(not_npz)
    position, entries, directory_size, directory_offset = end
    if position == 0:
        raise Refusal("the file is an empty zip: it holds no arrays")
    if position != directory_offset + directory_size or not data.startswith(LOCAL_HEADER):
        raise Refusal(two_formats)
    count = _count_directory(data, directory_offset, directory_size, max_members)
    if count > max_members or entries > max_members:
        raise Refusal(
            f"the file holds {max(count, entries)} members or more; an export holds at most "
            f"{max_members} arrays"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except READ_ERRORS as error:
        raise Refusal(f"{not_npz}; its zip directory is damaged ({_why(error)})") from None
    if not members:
        raise Refusal("the file is an empty zip: it holds no arrays")
    by_name: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for member in members:
        name = member.filename
        if "/" in name or "\\" in name:
            raise Refusal(
                f"member {shown(name)} is in a folder; the arrays must be at the top level, "
                "as numpy.savez writes them"
            )
        if not name.endswith(".npy"):
            raise Refusal(f"{shown(name)} is not an .npy array")
        array = name.removesuffix(".npy")
        if array in by_name:
            raise Refusal(f"array {shown(array)} appears twice in the file")
        if member.flag_bits & ENCRYPTED:
            raise Refusal(f"array {shown(array)} is encrypted; save it without a password")
        if member.compress_type not in METHODS:
            raise Refusal(
                f"array {shown(array)} is compressed with zip method {member.compress_type}; "
                "expected stored or deflate (numpy.savez or numpy.savez_compressed)"
            )
        if member.file_size > max_member_bytes:
            raise Refusal(
                f"array {shown(array)} unpacks to {megabytes(member.file_size)}; the limit is "
                f"{max_member_bytes // 2**20} MB per array"
            )
        total += member.file_size
        by_name[array] = member
    if total > max_total_bytes:
        raise Refusal(
            f"the arrays unpack to {megabytes(total)}; the limit is {max_total_bytes // 2**20} MB"
        )
    return archive, by_name


def read_header(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, name: str, *, max_bytes: int
) -> NpyHeader:
    """Member ``name``'s ``.npy`` header, its declared size checked against
    ``max_bytes`` and against the member's size in the zip directory."""
    label = f"array {shown(name)}"
    try:
        with archive.open(member) as stream:
            magic = stream.read(npy_format.MAGIC_LEN)
            if len(magic) < npy_format.MAGIC_LEN or not magic.startswith(npy_format.MAGIC_PREFIX):
                raise Refusal(f"{label} is not in .npy format (raw bytes, not numpy.save's)")
            version = tuple(magic[-2:])
            if version not in ((1, 0), (2, 0)):
                raise Refusal(
                    f"{label} has .npy format version {version[0]}.{version[1]}; "
                    "expected 1.0 or 2.0"
                )
            length_format = "<H" if version == (1, 0) else "<I"
            length_bytes = _read_exactly(stream, struct.calcsize(length_format), label)
            (length,) = struct.unpack(length_format, length_bytes)
            if length > MAX_HEADER_BYTES:
                raise Refusal(
                    f"{label} has a .npy header of {length:,} bytes; expected at most "
                    f"{MAX_HEADER_BYTES:,}"
                )
            text = _read_exactly(stream, length, label)
    except Refusal:
        raise
    except READ_ERRORS as error:
        raise _damaged(label, error) from None
    reader = (
        npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
    )
    try:
        shape, fortran_order, dtype = reader(io.BytesIO(length_bytes + text))
    except Exception as error:  # numpy's header parser: ValueError, TypeError, SyntaxError, …
        raise Refusal(f"{label} has a damaged .npy header: {_header_fault(error)}") from None
    _check_dtype(label, dtype)
    if any(size < 0 for size in shape):
        raise Refusal(f"{label} declares a negative size in its shape {shown_shape(shape)}")
    header = NpyHeader(
        shape=tuple(int(s) for s in shape),
        dtype=dtype,
        fortran_order=bool(fortran_order),
        offset=npy_format.MAGIC_LEN + len(length_bytes) + length,
    )
    declared = (
        f"{label} declares shape {shown_shape(header.shape)} of {dtype.name}: "
        f"{number(math.prod(header.shape))} values, {megabytes(header.nbytes)}"
    )
    if header.nbytes > max_bytes:
        raise Refusal(f"{declared}; the limit is {max_bytes // 2**20} MB per array")
    holds = member.file_size - header.offset
    if header.nbytes != holds:
        raise Refusal(f"{declared}, but the file holds {max(holds, 0):,} bytes of its data")
    return header


def read_array(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, name: str, header: NpyHeader
) -> np.ndarray:
    """Member ``name``'s values as a float64 array of ``header.shape``; the read
    never goes past the declared size, and the member's checksum is checked."""
    label = f"array {shown(name)}"
    try:
        with archive.open(member) as stream:
            _read_exactly(stream, header.offset, label)
            raw = _read_exactly(stream, header.nbytes, label)
            if stream.read(1):  # reading to the end also checks the CRC-32
                raise Refusal(
                    f"{label} holds more bytes than its shape {shown_shape(header.shape)}"
                )
    except Refusal:
        raise
    except READ_ERRORS as error:
        raise _damaged(label, error) from None
    order = "F" if header.fortran_order else "C"
    values = np.frombuffer(raw, dtype=header.dtype).reshape(header.shape, order=order)
    return values.astype(np.float64, order="C")


def _read_exactly(stream, size: int, label: str) -> bytes:
    """``size`` bytes from ``stream`` (never more), or a refusal naming ``label``."""
    data = stream.read(size)
    if len(data) < size:
        raise Refusal(f"{label} is cut short: {len(data):,} of {size:,} bytes")
    return data


def _check_dtype(label: str, dtype: np.dtype) -> None:
    if dtype.hasobject:
        raise Refusal(
            f"{label} holds Python objects, which would need pickle; "
            "save plain float arrays (tensor.detach().numpy())"
        )
    if dtype.fields is not None or dtype.subdtype is not None:
        raise Refusal(
            f"{label} has a structured dtype {dtype}; expected plain floating point "
            "(float16, float32 or float64)"
        )
    if dtype.kind != "f" or dtype.name not in FLOATS:
        raise Refusal(
            f"{label} has dtype {dtype.name}; expected floating point (float16, float32 or float64)"
        )


def _end_record(data: bytes) -> tuple[int, int, int, int] | None:
    """(position, entries, directory size, directory offset) of the end record
    that ends ``data`` exactly (its comment included), or None."""
    start = len(data) - EOCD_SIZE
    lowest = max(0, start - MAX_COMMENT)
    while start >= lowest:
        start = data.rfind(EOCD, lowest, start + 4)
        if start < 0:
            return None
        fields = struct.unpack("<4s4H2LH", data[start : start + EOCD_SIZE])
        if start + EOCD_SIZE + fields[-1] == len(data):
            _, disk, directory_disk, _, entries, size, offset, _ = fields
            if disk or directory_disk:
                return None  # a multi-disk archive
            return start, entries, size, offset
        start -= 1
    return None


def _count_directory(data: bytes, offset: int, size: int, limit: int) -> int:
    """How many entries the central directory at ``offset`` holds, counting no
    further than ``limit`` + 1 (so a directory of a million entries costs nothing)."""
    position, end, count = offset, offset + size, 0
    while position + CENTRAL_ENTRY_SIZE <= end and count <= limit:
        if data[position : position + 4] != CENTRAL_ENTRY:
            break
        name, extra, comment = struct.unpack("<3H", data[position + 28 : position + 34])
        position += CENTRAL_ENTRY_SIZE + name + extra + comment
        count += 1
    return count


def _header_fault(error: BaseException) -> str:
    """What numpy's header parser found wrong, in our words (its own messages
    quote the header and name Python's syntax tree)."""
    text = str(error)
    if "correct keys" in text:
        return "it must hold exactly descr, fortran_order and shape"
    if "shape" in text:
        return "its shape is not a tuple of whole numbers"
    if "fortran_order" in text:
        return "its fortran_order is not True or False"
    if "descr" in text or "dtype" in text:
        return "its descr is not a NumPy dtype"
    return "it is not the Python dict numpy.save writes"


def _damaged(label: str, error: BaseException) -> Refusal:
    """The refusal for a member the zip library or zlib could not read."""
    if isinstance(error, zlib.error):
        return Refusal(f"{label} is damaged: its compressed data cannot be inflated")
    if "CRC" in str(error):
        return Refusal(f"{label} is damaged: its data do not match the zip's checksum (CRC-32)")
    return Refusal(f"{label} is damaged: {_why(error)}")


def _why(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text if len(text) <= 120 else text[:119] + "…"
