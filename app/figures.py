"""Every chart of a state as image files, for course authors' slides; and the
registry of the app's views.

    python -m app.figures --preset exploding --format svg --out figures/
    python -m app.figures --link 'http://localhost:8501/?cell=gru&T=50' --format png,csv
    python -m app.figures --all-presets --format svg --format json --out figures/

Each chart is made by its view's ``figures(settings, runs)`` and written by
``app.export.figure_image``: the same code path as the app's download
buttons. ``csv`` and ``json`` write the trace's numbers (``app.tidy``).
With ``--all-presets`` each preset gets its own folder. A progress bar goes to
standard error; the paths written go to standard output.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import re
import sys
import time
from pathlib import Path
from types import ModuleType
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import plotly.graph_objects as go

from app.explorer.presets import PRESETS
from app.explorer.state import Settings

# The app's views in tab order: title → module (each has figures() and render()).
VIEW_MODULES = {
    "Gradient flow": "gradient_flow",
    "Backward sweep": "backward_sweep",
    "Inside the cell": "inside_cell",
    "Why it vanishes": "why_vanishes",
    "Clipping": "clipping",
    "Phase diagram": "phase_diagram",
}
IMAGE_FORMATS = ("svg", "png")
DATA_FORMATS = ("csv", "json")
FORMATS = IMAGE_FORMATS + DATA_FORMATS
# Short names for the command line; a preset missing here gets a slug of its name.
PRESET_SLUGS = {
    "default": "Elman against LSTM",
    "vanishing": "Vanishing (w = 0.9)",
    "exploding": "Exploding (w = 1.1)",
    "clipping": "Clipping tames an explosion",
    "forget-gate": "The forget gate carries the gradient",
    "no-forget-gate": "LSTM without a forget gate",
    "gru-vs-elman": "GRU against Elman",
    "truncation": "Truncation cuts the long path",
    "bidirectional": "Bidirectional: gradient from both ends",
    "relu-identity": "ReLU with an identity start",
}


def views() -> dict[str, ModuleType]:
    """Title → view module, in the app's tab order (imported on first call)."""
    return {
        title: importlib.import_module(f"app.explorer.views.{module}")
        for title, module in VIEW_MODULES.items()
    }


def view_figures(view: ModuleType, settings: Settings, runs=None) -> dict[str, go.Figure]:
    """One view's charts as exported, by their Streamlit keys."""
    from app.explorer.views.common import Runs

    runs = Runs(settings) if runs is None else runs
    with np.errstate(all="ignore"):  # overflow is expected in these runs, and masked
        return view.figures(settings, runs)


def all_figures(settings: Settings) -> dict[str, go.Figure]:
    """Every view's charts for ``settings``, by their Streamlit keys."""
    from app.explorer.views.common import Runs

    runs = Runs(settings)
    out: dict[str, go.Figure] = {}
    for view in views().values():
        out.update(view_figures(view, settings, runs))
    return out


# ---- presets and links ---------------------------------------------------------------------


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def preset_slugs() -> dict[str, str]:
    """Short name → preset name, for every preset."""
    known = {short: name for short, name in PRESET_SLUGS.items() if name in PRESETS}
    named = set(known.values())
    return known | {slug(name): name for name in PRESETS if name not in named}


def find_preset(text: str) -> str | None:
    """The preset named ``text`` (its display name or short name, any case)."""
    wanted = text.strip().lower()
    for name in PRESETS:
        if name.lower() == wanted:
            return name
    return preset_slugs().get(slug(wanted))


def link_params(link: str) -> dict[str, str]:
    """A copied link's query as {key: value}: a whole URL, "?a=1&b=2" or "a=1&b=2"."""
    text = link.strip()
    if "?" in text:
        query = urlsplit(text).query if "://" in text else text.split("?", 1)[1]
    else:
        query = text
    query = query.split("#", 1)[0]
    return dict(parse_qsl(query, keep_blank_values=True))


# ---- the command line -----------------------------------------------------------------------


class Progress:
    """A progress bar on standard error, redrawn in place (only on a terminal)."""

    def __init__(self, total: int, stream=None, width: int = 28) -> None:
        self.total, self.done, self.width = max(1, total), 0, width
        self.stream = sys.stderr if stream is None else stream
        self.live = self.stream.isatty()
        self.started = time.perf_counter()

    def step(self, label: str = "", advance: int = 1) -> None:
        self.done = min(self.total, self.done + advance)
        self.show(label)

    def show(self, label: str = "") -> None:
        if not self.live:
            return
        filled = int(self.width * self.done / self.total)
        bar = "█" * filled + "·" * (self.width - filled)
        seconds = time.perf_counter() - self.started
        text = f"\r[{bar}] {self.done}/{self.total} {seconds:5.1f} s {label[:48]:<48}"
        self.stream.write(text)
        self.stream.flush()

    def close(self) -> None:
        if self.live:
            self.stream.write("\n")
            self.stream.flush()


def parse_formats(values: list[str] | None) -> list[str]:
    chosen: list[str] = []
    for value in values or ["svg"]:
        for part in value.split(","):
            fmt = part.strip().lower()
            if not fmt:
                continue
            if fmt not in FORMATS:
                raise ValueError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
            if fmt not in chosen:
                chosen.append(fmt)
    if not chosen:
        raise ValueError("no format given")
    return chosen


def build_parser() -> argparse.ArgumentParser:
    slugs = preset_slugs()
    listing = "\n".join(f"  {short:<16} {name}" for short, name in slugs.items())
    parser = argparse.ArgumentParser(
        prog="python -m app.figures",
        description=(
            "Write every chart of a Gradient Flow Lab state as SVG or PNG (PNG at twice "
            "the size), and the trace's numbers as tidy CSV or JSON, exactly as the app's "
            "download buttons do. Without --preset, --link or --all-presets: the default "
            "settings."
        ),
        epilog="presets (short name, then the name the app shows):\n" + listing,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--preset", help="a preset's short name (see below) or the name the app shows"
    )
    source.add_argument(
        "--link", help="a link copied from the app (a whole URL, or just its query string)"
    )
    source.add_argument(
        "--all-presets", action="store_true", help="every preset, each in its own folder"
    )
    parser.add_argument(
        "--format",
        action="append",
        metavar="FMT",
        help="svg, png, csv or json; repeat it or give a comma list (default: svg)",
    )
    parser.add_argument(
        "--out", default="figures", type=Path, help="folder to write to (default: figures/)"
    )
    parser.add_argument(
        "--chart",
        action="append",
        metavar="KEY",
        help="only these charts, by key (e.g. gradient_flow,phase_diagram); default: all",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def quiet_streamlit() -> None:
    """Outside ``streamlit run`` the caches log "No runtime found" and similar
    warnings: harmless here, so silenced."""
    os.environ.setdefault("STREAMLIT_LOGGER_LEVEL", "error")
    import streamlit  # noqa: F401  (creates its loggers, whose level is set next)

    for name in list(logging.root.manager.loggerDict):
        if name == "streamlit" or name.startswith("streamlit."):
            logging.getLogger(name).setLevel(logging.ERROR)


def targets(args, parser) -> list[tuple[Settings, Path, str]]:
    """(settings, folder, description) for each state asked for."""
    if args.all_presets:
        return [
            (PRESETS[name].settings, args.out / short, name)
            for short, name in preset_slugs().items()
        ]
    if args.preset is not None:
        name = find_preset(args.preset)
        if name is None:
            parser.error(
                f"argument --preset: unknown preset {args.preset!r}; choose one of: "
                + ", ".join(preset_slugs())
            )
        return [(PRESETS[name].settings, args.out, name)]
    if args.link is not None:
        from app.explorer.session import link_notice

        params = link_params(args.link)
        settings, ignored = Settings.from_query(params)
        if ignored:
            print(link_notice(ignored, params), file=sys.stderr)
        return [(settings, args.out, "the link's settings")]
    return [(Settings(), args.out, "the default settings")]


def write_state(
    settings: Settings,
    folder: Path,
    formats: list[str],
    progress: Progress,
    only: set[str] | None = None,
) -> tuple[list[Path], list[str], set[str]]:
    """Write one state's charts (``only`` these keys, if given) and data into
    ``folder``: (paths written, failures, chart keys made)."""
    from app import export, tidy
    from app.explorer.views.common import Runs

    folder.mkdir(parents=True, exist_ok=True)
    runs = Runs(settings)
    paths: list[Path] = []
    failures: list[str] = []
    made: set[str] = set()
    images = [f for f in formats if f in IMAGE_FORMATS]
    for title, view in views().items():
        progress.show(f"{title}: computing")
        try:
            charts = view_figures(view, settings, runs) if images else {}
            for key, fig in charts.items():
                made.add(key)
                if only is not None and key not in only:
                    continue
                for fmt in images:
                    progress.show(f"{key}.{fmt}")
                    path = folder / export.file_name(key, settings, fmt)
                    path.write_bytes(export.figure_image(fig, settings, fmt))
                    paths.append(path)
        except Exception as error:  # one view failing must not stop the others
            failures.append(f"{title}: {type(error).__name__}: {error}")
        progress.step(title)
    for fmt in (f for f in formats if f in DATA_FORMATS):
        progress.show(f"trace.{fmt}")
        path = folder / tidy.file_name(settings, fmt)
        with np.errstate(all="ignore"), path.open("w", encoding="utf-8", newline="") as out:
            if fmt == "csv":
                for piece in tidy.iter_trace_csv(settings, runs):
                    out.write(piece)
            else:
                out.write(tidy.trace_json(settings, runs))
        paths.append(path)
        progress.step(f"trace.{fmt}")
    return paths, failures, made


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        formats = parse_formats(args.format)
    except ValueError as error:
        parser.error(f"argument --format: {error}")
    only = None
    if args.chart:
        only = {key.strip() for value in args.chart for key in value.split(",") if key.strip()}
    quiet_streamlit()
    jobs = targets(args, parser)
    data = sum(f in DATA_FORMATS for f in formats)
    progress = Progress(len(jobs) * (len(VIEW_MODULES) + data), sys.stderr)
    if args.quiet:
        progress.live = False
    from app import export

    written, failed, made = 0, [], set()
    started = time.perf_counter()
    try:
        for settings, folder, description in jobs:
            try:
                paths, failures, keys = write_state(settings, folder, formats, progress, only)
            except OSError as error:
                progress.close()
                print(f"error: cannot write to {folder}: {error}", file=sys.stderr)
                return 1
            for path in paths:
                print(path)
            written += len(paths)
            made |= keys
            failed += [f"{description}: {f}" for f in failures]
    finally:
        export.stop_server()
    progress.close()
    if only is not None and any(f in IMAGE_FORMATS for f in formats) and only - made:
        missing = ", ".join(sorted(only - made))
        failed.append(f"no chart named {missing} (these were made: {', '.join(sorted(made))})")
    for failure in failed:
        print(f"error: {failure}", file=sys.stderr)
    seconds = time.perf_counter() - started
    print(f"wrote {written} files to {args.out} in {seconds:.1f} s", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
