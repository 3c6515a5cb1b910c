"""Command-line options shared by the sub-commands of every layer (``--task``/``--m``/``--n``/``--p``).

The sub-commands live next to their layer (``grokviz.analysis.cli``, ``grokviz.sweep.cli``,
``grokviz.gui.export_cli``, ``grokviz.bench``) and :mod:`grokviz.cli` registers them; the options
they share sit here, below all of them, so no layer imports the command line above it.
"""

from __future__ import annotations

import argparse


def at_least_one(text: str) -> int:
    """argparse type: an integer ≥ 1 (a bad value is one line and exit status 2)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer ≥ 1, not {text!r}")
    return value


def add_task_options(parser, required: bool = False, p_required: bool | None = False) -> None:
    """``--task``, ``--m``, ``--n`` and (unless ``p_required`` is None: p comes from the file) ``--p``."""
    parser.add_argument("--task", required=required, help="add, sub, mul, div, pow (or pow:m=4,n=3)")
    parser.add_argument("--m", type=int, default=None, help="exponent of a for pow")
    parser.add_argument("--n", type=int, default=None, help="exponent of b for pow")
    if p_required is not None:
        parser.add_argument("--p", type=int, default=113 if not p_required else None, required=p_required, help="modulus")


def task_from_args(args, p: int | None = None):
    """The Task the options describe, or None when --task was not given."""
    from grokviz.core.tasks import parse_task

    if not getattr(args, "task", None):
        if args.m is not None or args.n is not None:
            from grokviz.core.errors import ParameterError

            raise ParameterError("--task", "--m/--n need --task pow")
        return None
    return parse_task(args.task, p if p is not None else args.p, args.m, args.n)


def task_spec_from_args(args):
    """A task spec string for importers (p comes from the file), or None."""
    if not getattr(args, "task", None):
        return None
    spec = args.task
    extra = [f"{k}={v}" for k, v in (("m", args.m), ("n", args.n)) if v is not None]
    if extra:
        spec = f"{spec.split(':')[0]}:{','.join(extra)}"
    return spec
