"""The training lab from the command line: the same runs, figures and numbers.

    .venv/bin/python -m app.train --task adding --steps 50 --hidden 32 \
        --cells rnn,gru,lstm --seeds 0,1,2 --updates 1500 --optimizer adam \
        --lr 0.01 --clip 1 --batch 32 --json
    .venv/bin/python -m app.train --preset "Weight decay keeps ρ below 1" --figures out/
    .venv/bin/python -m app.train --link 'http://127.0.0.1:8501/training_lab?task=copy' --json

``--json`` prints ``{"settings": {...}, "runs": [{"cell", "seed", "final_val_loss",
"solved_at", "seconds", "history": [...]}, ...]}``; without it, one line per
run. ``--figures DIR --format svg,png`` writes the lab's charts through the
same code as the page's buttons. A progress bar goes to a terminal's stderr.
Validation is a fixed batch of 512 sequences drawn from a seed apart from
training's; each cell trains on the same batches, its seeds side by side in
one stacked run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import numpy as np

from app import process
from app.lab.presets import LAB_PRESETS
from app.lab.state import MAX_WORK, LabSettings
from app.lab.training import Training

OPTIONS = {  # command-line flag → LabSettings field
    "task": "task",
    "steps": "steps",
    "hidden": "hidden_size",
    "optimizer": "optimizer",
    "lr": "lr",
    "clip": "clip",
    "batch": "batch",
    "updates": "updates",
    "weight_decay": "weight_decay",
    "truncate": "truncation",
    "activation": "activation",
    "init": "init",
    "rho": "spectral_radius",
}


def parse(argv: list[str] | None) -> tuple[LabSettings, tuple[int, ...], argparse.Namespace]:
    parser = argparse.ArgumentParser(
        prog="python -m app.train", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--preset", choices=list(LAB_PRESETS), help="start from a preset")
    parser.add_argument("--link", help="start from a lab link (its query)")
    parser.add_argument("--task")
    parser.add_argument("--steps", type=int, help="T")
    parser.add_argument("--hidden", type=int, help="H")
    parser.add_argument("--cells", help="comma-separated: rnn,jordan,gru,mgu,lstm,lstm_nofg")
    parser.add_argument("--seeds", help="comma-separated seeds, trained side by side")
    parser.add_argument("--updates", type=int)
    parser.add_argument("--optimizer", choices=["sgd", "momentum", "adam"])
    parser.add_argument("--lr", type=float)
    parser.add_argument("--clip", type=float, help="θ; 0 turns clipping off")
    parser.add_argument("--batch", type=int)
    parser.add_argument("--weight-decay", type=float, help="λ; 0 turns it off")
    parser.add_argument("--truncate", type=int, help="k; 0 turns truncation off")
    parser.add_argument("--activation")
    parser.add_argument("--init")
    parser.add_argument("--rho", type=float, help="rescale W_hh to this spectral radius")
    parser.add_argument("--json", action="store_true", help="print the runs as JSON")
    parser.add_argument("--figures", type=Path, help="write the lab's charts to this folder")
    parser.add_argument("--format", default="svg", help="figure formats: svg,png")
    args = parser.parse_args(argv)

    settings = LabSettings()
    if args.preset:
        settings = LAB_PRESETS[args.preset].settings
    if args.link:
        settings, ignored = LabSettings.from_query(dict(parse_qsl(urlsplit(args.link).query)))
        if ignored:
            parser.error(f"the link's {', '.join(ignored)} could not be used")
    changes = {}
    for flag, name in OPTIONS.items():
        value = getattr(args, flag)
        if value is not None:
            off = name in ("clip", "weight_decay", "truncation") and value == 0
            changes[name] = None if off else value
    if args.cells:
        changes["cells"] = tuple(c.strip() for c in args.cells.split(",") if c.strip())
    seeds = settings.seeds
    if args.seeds:
        try:
            seeds = tuple(int(s) for s in args.seeds.split(","))
        except ValueError:
            parser.error(f"--seeds must be whole numbers separated by commas, got {args.seeds!r}")
        changes["seed"], changes["seed_count"] = seeds[0], min(len(seeds), 5)
    try:
        settings = settings.replace(**changes)
    except ValueError as error:
        parser.error(str(error))
    if settings.work * len(seeds) / settings.seed_count > 50 * MAX_WORK:
        parser.error("that run is too large; fewer updates, cells, seeds, or a smaller H or T")
    return settings, seeds, args


def history_rows(run: Training, line, s: int) -> list[dict]:
    kept = run.history[line]
    validation = dict(zip(kept.validated_at, kept.validation, strict=True))
    rows = []
    for i, u in enumerate(kept.updates):
        row = {
            "update": u,
            "loss": _number(kept.loss[i][s]),
            "grad_norm": _number(kept.grad_norm[i][s]),
            "clip_scale": _number(kept.clip_scale[i][s]),
            "spectral_radius": _number(np.max(kept.spectral_radius[i][s])),
        }
        if u + 1 in validation:
            row["val_loss"] = _number(validation[u + 1][s])
        rows.append(row)
    return rows


def _number(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def report(run: Training) -> dict:
    runs = []
    per_update = run.seconds / max(1, run.done)
    for line, kept in run.history.items():
        solved = run.solved_at(line)
        for s, seed in enumerate(run.seeds):
            runs.append(
                {
                    "cell": line.kind if line.without is None else f"{line.kind}-no-{line.without}",
                    "seed": seed,
                    "final_val_loss": _number(kept.validation[-1][s]) if kept.validation else None,
                    "baseline": run.validation.baseline,
                    "solved_at": solved[s],
                    "seconds": per_update * run.done / len(run.history),
                    "history": history_rows(run, line, s),
                }
            )
    return {"settings": settings_dict(run.settings, run.seeds), "runs": runs}


def settings_dict(settings: LabSettings, seeds: tuple[int, ...]) -> dict:
    fields = {name: getattr(settings, name) for name in settings.__dataclass_fields__}
    fields["cells"] = list(settings.cells)
    fields["seeds"] = list(seeds)
    fields["link"] = f"{LabSettings.PAGE_PATH}?" + "&".join(
        f"{k}={v}" for k, v in settings.to_query().items()
    )
    return fields


def main(argv: list[str] | None = None) -> int:
    process.one_blas_thread()
    process.keep_freed_memory()
    settings, seeds, args = parse(argv)
    run = Training.start(settings, seeds=seeds)
    show = sys.stderr.isatty()
    while not run.finished:
        run.advance(0.5)
        if show:
            done = run.done / settings.updates
            bar = "█" * int(30 * done)
            sys.stderr.write(f"\r{bar:<30} {run.done}/{settings.updates} updates")
            sys.stderr.flush()
    if show:
        sys.stderr.write("\n")
    result = report(run)
    if args.figures:
        write_figures(run, args.figures, [f.strip() for f in args.format.split(",")])
    if args.json:
        print(json.dumps(result))
    else:
        for item in result["runs"]:
            print(
                f"{item['cell']:>14} seed {item['seed']}: validation loss "
                f"{item['final_val_loss']} (baseline {item['baseline']:.3g}), "
                f"solved at {item['solved_at']}"
            )
    return 0


def write_figures(run: Training, folder: Path, formats: list[str]) -> list[Path]:
    from app import export
    from app.lab import charts

    folder.mkdir(parents=True, exist_ok=True)
    first = next(iter(run.history))
    figures = {
        "lab_loss": charts.loss_figure(run),
        "lab_grad_norm": charts.grad_norm_figure(run),
        "lab_radius": charts.radius_figure(run),
        "lab_lags": charts.lag_figure(run, first),
        "lab_example": charts.example_figure(run, first),
    }
    written = []
    for name, fig in figures.items():
        for fmt in formats:
            path = folder / f"{name}_{export.short_settings(run.settings)}.{fmt}"
            path.write_bytes(export.figure_image(fig, run.settings, fmt))
            written.append(path)
    return written


if __name__ == "__main__":
    sys.exit(main())
