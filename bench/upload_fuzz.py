"""Count how ``read_weights`` answers 1,000 malformed uploads: this tree's
``app/upload.py`` and the one at a reference commit, side by side in one run,
on the same files (``tests/malformed_npz.py``: random bytes, truncations,
corruptions, odd dtypes, shapes declared larger than the data, damaged
``.npy`` headers, zip structures savez never writes, polyglots, zip bombs).

Each answer is one of: ValueError (the refusal the app shows as a sentence),
accepted (the file was still a good export: a corruption can land on a byte
nothing reads, such as a timestamp), or the name of any other exception (a
traceback in the app). Each call's peak memory is measured with tracemalloc.

Usage (from the repository root):

    .venv/bin/python bench/upload_fuzz.py [--files 1000] [--seed 0] [--ref 3b1f1e6]

Takes about a minute: the zip bomb is built once (1 GB of zeros deflated).
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests"))

from malformed_npz import FAMILIES, malformed  # noqa: E402

from app import upload  # noqa: E402

MEMORY_LIMIT = 64 * 2**20  # a call's peak above this counts as unbounded


def upload_at(commit: str):
    """``app/upload.py`` as it was at ``commit``, imported under another name."""
    source = subprocess.run(
        ["git", "show", f"{commit}:app/upload.py"],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    # the explorer's state has moved since (app/explorer/state.py, app/links.py)
    source = source.replace(
        "from app.state import DIGEST_LENGTH, FIELD_BY_NAME",
        "from app.explorer.state import FIELD_BY_NAME\nfrom app.links import DIGEST_LENGTH",
    )
    path = Path(tempfile.mkdtemp()) / f"upload_at_{commit}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def answer(read, data: bytes) -> tuple[str, int]:
    """(what ``read(data)`` did, its peak bytes under tracemalloc)."""
    tracemalloc.start()
    try:
        read(data)
        outcome = "accepted"
    except ValueError:
        outcome = "ValueError"
    except Exception as error:  # what the harness counts (MemoryError among them)
        outcome = type(error).__name__
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return outcome, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ref", default="3b1f1e6", help="the commit to compare with")
    args = parser.parse_args()
    readers = {args.ref: upload_at(args.ref).read_weights, "this tree": upload.read_weights}
    rng = random.Random(args.seed)
    counts = {name: collections.Counter() for name in readers}
    escapes = {name: collections.Counter() for name in readers}
    peaks = dict.fromkeys(readers, 0)
    over = collections.Counter()
    started = time.perf_counter()
    for _ in range(args.files):
        family, data = malformed(rng)
        for name, read in readers.items():
            outcome, peak = answer(read, data)
            counts[name][outcome] += 1
            if outcome != "ValueError":
                escapes[name][f"{outcome} ({family})"] += 1
            peaks[name] = max(peaks[name], peak)
            over[name] += peak > MEMORY_LIMIT
    seconds = time.perf_counter() - started
    print(
        f"{args.files} malformed files, seed {args.seed}, {len(FAMILIES)} families, {seconds:.0f} s"
    )
    columns = ("ValueError", "accepted", "other", "peak MB", ">64 MB")
    print(f"{'reader':>12} " + " ".join(f"{c:>10}" for c in columns))
    for name, count in counts.items():
        other = sum(v for k, v in count.items() if k not in ("ValueError", "accepted"))
        row = (count["ValueError"], count["accepted"], other, f"{peaks[name] / 2**20:.1f}")
        print(f"{name:>12} " + " ".join(f"{v:>10}" for v in (*row, over[name])))
    for name, escaped in escapes.items():
        for what, n in escaped.most_common():
            print(f"  {name}: {n} × {what}")


if __name__ == "__main__":
    main()
