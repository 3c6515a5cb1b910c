"""``grokviz sweep SPEC --out DIR``: train a grid of runs (auto-registered by grokviz.cli)."""

from __future__ import annotations

import signal
import sys

FLAG_HELP = {
    "task": "task(s): add, sub, mul, div, pow (comma-separated for several)",
    "m": "pow exponent(s) of a: 3, 1..3 or 1,2,5",
    "n": "pow exponent(s) of b",
    "p": "modulus / moduli",
    "seeds": "model init seed(s)",
    "data_seeds": "split seed(s)",
    "frac_train": "train fraction(s)",
    "lr": "learning rate(s)",
    "weight_decay": "weight decay(s)",
    "grokfast_lambda": "Grokfast λ value(s)",
}
SCALAR_FLAGS = {
    "epochs": int, "split": str, "grokfast_alpha": float, "warmup": int, "eval_every": int,
    "checkpoint_every": int, "save_every": float, "device": str, "d_model": int, "n_heads": int,
    "d_head": int, "d_mlp": int, "loss": str, "optimizer": str,
}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "sweep", help="train a grid of runs (resumable; local process pool or Ray)",
        description="Train every cell of a grid into DIR (one run file per cell, index.csv / index.json). "
                    "Re-running skips finished cells and resumes unfinished ones.")
    parser.add_argument("spec", nargs="?", help="TOML or YAML spec file (flags override it)")
    parser.add_argument("--out", required=True, help="sweep directory")
    for key, text in FLAG_HELP.items():
        parser.add_argument("--" + key.replace("_", "-"), dest=key, default=None, help=text)
    parser.add_argument("--seed", dest="seeds", default=None, help=argparse_suppress())
    parser.add_argument("--data-seed", dest="data_seeds", default=None, help=argparse_suppress())
    for key, kind in SCALAR_FLAGS.items():
        parser.add_argument("--" + key.replace("_", "-"), dest=key, type=kind, default=None)
    parser.add_argument("--grokfast", dest="grokfast", action="store_const", const=True, default=None,
                        help="Grokfast-EMA gradient filter")
    parser.add_argument("--no-grokfast", dest="grokfast", action="store_const", const=False)
    parser.add_argument("--workers", type=int, default=None, help="local processes (default: the number of cores)")
    parser.add_argument("--ray", metavar="auto|ADDRESS", default=None,
                        help="run each cell as a task on a Ray cluster (DIR must be on a shared filesystem)")
    parser.add_argument("--cpus-per-cell", type=int, default=1, help="Ray: CPUs per cell (torch threads)")
    parser.add_argument("--gpus-per-cell", type=float, default=0, help="Ray: GPUs per cell (e.g. 1)")
    parser.add_argument("--dry-run", action="store_true", help="list the cells and exit")
    parser.add_argument("--quiet", action="store_true")
    parser.set_defaults(handler=cmd_sweep)


def argparse_suppress():
    import argparse

    return argparse.SUPPRESS


def spec_from_args(args):
    from grokviz.sweep.spec import AXES, SCALARS, load_spec, spec_from_flags

    base = load_spec(args.spec) if args.spec else None
    values = {key: getattr(args, key, None) for key in (*AXES, *SCALARS)}
    return spec_from_flags(values, base)


def cmd_sweep(args) -> int:
    from grokviz.core.errors import ParameterError
    from grokviz.sweep.runner import Sweep

    if args.workers is not None and args.workers < 1:
        raise ParameterError("--workers", f"must be >= 1, got {args.workers}")
    if args.cpus_per_cell < 1 or args.gpus_per_cell < 0:
        raise ParameterError("--cpus-per-cell", "needs >= 1 CPU and >= 0 GPUs per cell")
    spec = spec_from_args(args)
    if args.dry_run:
        for cell in spec.cells():
            print(cell.name)
        return 0
    import os

    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise ParameterError("--out", f"{args.out} exists and is not a directory")
    sweep = Sweep(spec, args.out, workers=args.workers, executor="ray" if args.ray else "local",
                  ray_address=args.ray, cpus_per_cell=args.cpus_per_cell, gpus_per_cell=args.gpus_per_cell,
                  quiet=args.quiet)

    def on_sigint(signum, frame):
        if sweep.stop_requested:
            raise KeyboardInterrupt
        print("\ngrokviz: stopping the sweep — running cells save their state (Ctrl-C again to abort)",
              file=sys.stderr)
        sweep.stop()

    old = signal.signal(signal.SIGINT, on_sigint)
    try:
        sweep.run()
    finally:
        signal.signal(signal.SIGINT, old)
    status = sweep.status
    return 0 if status == "finished" else 130 if status == "stopped" else 1
