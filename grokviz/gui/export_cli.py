"""``grokviz export RUN --out DIR``: the standard figure set, headless (issue 7); ``grokviz export
SWEEP_DIR --out DIR``: the sweep figure; ``grokviz export RUN_A RUN_B --out DIR``: every figure with the
two runs side by side (:mod:`grokviz.gui.compare.figures`, issue 16).

Registered by :func:`grokviz.cli._extensions`; imports nothing heavy until the command runs.
"""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    from grokviz.core.cli_options import add_task_options, at_least_one
    from grokviz.core.epochs import MODES

    parser = subparsers.add_parser(
        "export", help="write the standard figure set (PNG/SVG + CSV + index.html) of a run, headless",
        description="Render the standard figures of a run offscreen: loss curves with phases, key frequencies, "
                    "neuron spectra, symmetry along the forward pass, a [c, a] resid_post slice, attention maps "
                    "and progress measures; each with its CSV, plus index.html. With two run files, every "
                    "figure shows both side by side (A left, B right) and each run's CSVs are written. "
                    "A sweep directory writes the sweep figure.")
    parser.add_argument("run", metavar="RUN", help="run file (grokviz, Grokking_Demo or Nanda format), or a sweep directory")
    parser.add_argument("run_b", nargs="?", default=None, metavar="RUN_B",
                        help="a second run file: paired figures of RUN (left) and RUN_B (right)")
    parser.add_argument("--out", required=True, help="output directory (created if needed)")
    parser.add_argument("--format", default="png,svg", help="comma-separated image formats: png, svg (default png,svg)")
    parser.add_argument("--checkpoint", type=int, default=None, help="epoch of the checkpoint (default: final weights)")
    parser.add_argument("--pair", choices=MODES, default=None,
                        help="with RUN_B and --checkpoint: RUN_B's checkpoint is the one at the same epoch as RUN's "
                             "(epoch, the default) or at the same fraction of training (fraction)")
    parser.add_argument("--max-checkpoints", type=at_least_one, default=100,
                        help="progress measures on at most this many checkpoints, evenly spread (default 100)")
    parser.add_argument("--slice-c", type=int, default=17, help="answer c of the [c, a] resid_post slice (default 17)")
    parser.add_argument("--animate", choices=["circles"], default=None,
                        help="instead of the figure set, write an animation over every checkpoint: "
                             "circles = the embedding circles (embedding_circles.gif, or .mp4 with --animate-format mp4)")
    parser.add_argument("--animate-format", choices=["gif", "mp4"], default="gif",
                        help="the animation's file format (default gif; mp4 is H.264 through the ffmpeg imageio-ffmpeg bundles)")
    parser.add_argument("--fps", type=at_least_one, default=10, help="animation frames (checkpoints) per second (default 10)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    add_task_options(parser, p_required=None)
    parser.set_defaults(handler=cmd_export)


def cmd_export(args) -> int:
    formats = [f.strip().lower().lstrip(".") for f in args.format.split(",") if f.strip()]
    bad = [f for f in formats if f not in ("png", "svg")]
    if bad:
        print(f"grokviz export: unknown format(s) {', '.join(bad)} (choose png, svg)", file=sys.stderr)
        return 2
    from pathlib import Path

    if args.run_b is None and args.pair is not None:
        print("grokviz export: --pair pairs RUN_B's checkpoints with RUN's; give two run files", file=sys.stderr)
        return 2
    if args.run_b is not None:
        problem = paired_problem(args)
        if problem:
            print(f"grokviz export: {problem}", file=sys.stderr)
            return 2
    check_output_directory(args.out)
    if Path(args.run).is_dir():
        return export_sweep(args.run, args.out, formats, quiet=args.quiet)
    from grokviz.core.cli_options import task_spec_from_args
    from grokviz.core.runfile import load_run

    run = load_run(args.run, task=task_spec_from_args(args))
    run_b = load_run(args.run_b, task=task_spec_from_args(args)) if args.run_b is not None else None
    if args.checkpoint is not None:
        if args.checkpoint not in run.epochs:
            print(f"{_name(run)}: no checkpoint at epoch {args.checkpoint}; using the nearest, "
                  f"{run.nearest_epoch(args.checkpoint)}", file=sys.stderr)
        if run_b is None:
            args.checkpoint = run.nearest_epoch(args.checkpoint)

    from grokviz.gui import figures

    figures.ensure_application()  # offscreen when there is no display, before the QApplication exists
    if run_b is not None and args.checkpoint is not None:
        _say_pairing(run, run_b, args)

    def report(fraction, text):
        if not args.quiet:
            print(f"\r{100 * fraction:5.1f}% {text[:70]:<70}", end="", file=sys.stderr, flush=True)

    if args.animate:
        return export_animation(run, args, report)
    from grokviz.gui.mechanism_figures import render_mechanism_figures  # design.md §6b figures

    if run_b is not None:
        from grokviz.gui.compare.figures import export_paired_figures

        files = export_paired_figures(run, run_b, args.out, formats, args.checkpoint, report=report,
                                      max_checkpoints=args.max_checkpoints, slice_c=args.slice_c,
                                      extra_figures=(render_mechanism_figures,), pair=args.pair or "epoch")
    else:
        files = figures.export_figure_set(run, args.out, formats, args.checkpoint, report=report,
                                          max_checkpoints=args.max_checkpoints, slice_c=args.slice_c,
                                          extra_figures=(render_mechanism_figures,))
    if not args.quiet:
        print(file=sys.stderr)
    if not args.quiet:
        for path in files:
            print(path)
    print(f"wrote {len(files)} files to {args.out}", file=sys.stderr)
    return 0


def _name(run) -> str:
    from pathlib import Path

    return Path(run.path).name if run.path else "run"


def _say_pairing(run, run_b, args) -> None:
    """One stderr line when B's checkpoint is not the epoch asked for: which one pairs with A's, and why."""
    from grokviz.core.epochs import MODE_LABELS
    from grokviz.gui.compare.figures import paired_epochs

    pair = args.pair or "epoch"
    epochs = paired_epochs(run, run_b, args.checkpoint, pair)
    if epochs["b"] != args.checkpoint:
        print(f"{_name(run_b)}: epoch {epochs['b']} pairs with {_name(run)}'s epoch {epochs['a']} "
              f"({MODE_LABELS[pair]})", file=sys.stderr)


def paired_problem(args) -> str | None:
    """Why ``grokviz export RUN RUN_B`` cannot run as asked (one line), or None: two run files, no animation."""
    from pathlib import Path

    from grokviz.core.errors import display_path

    if args.animate:
        return "--animate takes one run; give RUN alone"
    for path in (args.run, args.run_b):
        if Path(path).is_dir():
            return (f"{display_path(path)} is a directory; paired figures need two run files "
                    "(export a sweep directory alone)")
    if not Path(args.run_b).exists():
        return f"{display_path(args.run_b)}: no such file (the second run, RUN_B)"
    return None


def export_animation(run, args, report) -> int:
    """``--animate circles``: the Circles tab's animation as a GIF or MP4 (``--animate-format``) in ``args.out``."""
    from pathlib import Path

    from grokviz.gui.mechanism_figures import write_circles_animation

    Path(args.out).mkdir(parents=True, exist_ok=True)
    path = Path(args.out) / f"embedding_circles.{args.animate_format}"
    try:
        write_circles_animation(run, path, fps=args.fps, report=report)
    except ValueError as error:
        print(f"grokviz export: {error}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(file=sys.stderr)
        print(path)
    print(f"wrote {path} ({len(run.epochs)} frames at {args.fps} fps)", file=sys.stderr)
    return 0


def check_output_directory(out) -> None:
    """Up front, one line: ``out`` is (or can be made) a directory that accepts new files."""
    from pathlib import Path

    from grokviz.core.atomic import check_writable
    from grokviz.core.errors import ParameterError, display_path

    if not str(out).strip():
        raise ParameterError("--out", "is empty; give a directory")
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        check_writable(out / "index.html")
    except FileExistsError:
        raise ParameterError("--out", f"{display_path(out)} exists and is not a directory") from None
    except OSError as error:
        from grokviz.core.atomic import describe_os_error

        reason = describe_os_error(error) if error.errno and not str(error).startswith("cannot") else str(error)
        raise ParameterError("--out", f"cannot write into {display_path(out)}: {reason}") from None


def export_sweep(directory, out, formats, quiet: bool = False) -> int:
    """A sweep directory: the sweep figure (grokking epoch, learned basis and key frequencies per cell;
    PNG/SVG), its per-cell CSV and an index.html (:mod:`grokviz.gui.sweep_figure`)."""
    from pathlib import Path

    from grokviz.core.errors import RunFileError

    if not (Path(directory) / "index.json").exists():
        raise RunFileError(directory, "is a directory without a sweep index.json (not a sweep directory)")
    from grokviz.gui.offscreen import close_graphics_views
    from grokviz.gui.sweep_figure import export_sweep_figure

    files = export_sweep_figure(directory, out, formats)
    if not quiet:
        for path in files:
            print(path)
    close_graphics_views()  # scenes cleared parent-first now, not in PySide's exit sweep (gui/offscreen.py)
    print(f"wrote {len(files)} files to {out}", file=sys.stderr)
    return 0
