"""``grokviz analyze``: the report registry on the command line (design.md §9).

``grokviz analyze RUN [--json] [--checkpoint E] [--progress]`` prints the combined ``analyze``
report; ``--report NAME`` prints one report; ``--list`` lists them. Registered by
:func:`grokviz.cli.build_parser` through ``register(subparsers)``.
"""

from __future__ import annotations

import inspect
import json
import sys

from grokviz.core.errors import ParameterError


def register(subparsers) -> None:
    from grokviz.core.cli_options import add_task_options

    parser = subparsers.add_parser("analyze", help="analyse a run: key frequencies, symmetry, progress measures, …",
                                   description="Run grokviz's reports on a run file. Without --report: the "
                                               "combined report (key frequencies, clusters, symmetry, c/2 model, "
                                               "progress measures, phases). --list shows every report.")
    parser.add_argument("run", nargs="?", help="run file (any supported format)")
    parser.add_argument("--checkpoint", type=int, default=None, help="epoch to analyse (default: final)")
    parser.add_argument("--report", default=None, metavar="NAME", help="run one report (see --list)")
    parser.add_argument("--list", action="store_true", help="list the reports and exit")
    parser.add_argument("--max-checkpoints", type=int, default=None,
                        help="run-wide reports (progress, phases): at most this many checkpoints, evenly spread")
    add_task_options(parser, p_required=None)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--progress", action="store_true", help="add per-checkpoint progress measures")
    parser.set_defaults(handler=cmd_analyze, flushes_denormals_itself=True)  # only when it needs torch


def _print_list() -> None:
    from grokviz.analysis.reports import specs

    rows = [(s.name, s.title, "per checkpoint" if s.per_checkpoint else "run-wide") for s in specs()]
    width = max(len(r[0]) for r in rows)
    title_width = max(len(r[1]) for r in rows)
    for name, title, kind in rows:
        print(f"{name:<{width}}  {title:<{title_width}}  {kind}")


def _fmt(x) -> str:
    return "—" if x is None else f"{x:.4g}"


def _print_analyze(report: dict) -> None:
    lines = [
        f"{report['formula']}, epoch {report['epoch']}",
        f"key freqs        {', '.join(map(str, report['key_freqs'])) or 'none'}"
        + ("" if report["key_freqs_agree"] else f"   (W_U: {report['key_freqs_W_U']})"),
        "neuron clusters  " + (", ".join(f"{k}: {n}" for k, n in report["neuron_clusters"].items()) or "none"),
        f"losses           train {_fmt(report['train_loss'])}, test {_fmt(report['test_loss'])}, "
        f"restricted {_fmt(report['restricted_loss'])}, excluded {_fmt(report['excluded_loss'])}",
        "token basis      " + "; ".join(f"{operand}: {found['best']} ("
                                        + ", ".join(f"{name} {value:.2f}" for name, value in found["concentration"].items())
                                        + ")" for operand, found in report["token_basis"].items()),
        ("symmetry at =    " + ", ".join(f"{h.split('.')[-1]} {_fmt(s)}" for h, s in report["symmetry"].items()))
        if report["symmetry_definition"]["defined"] else f"symmetry         {report['symmetry_definition']['reason']}",
    ]
    if report["c2_model_r2"]:
        lines.append("c/2 model R²     " + ", ".join(f"{h.split('.')[-1]} {_fmt(s)}"
                                                      for h, s in report["c2_model_r2"].items()))
    if report["layout_note"]:
        lines.append(f"note             {report['layout_note']}")
    phases = report["phases"]
    lines.append(f"phases           memorised {phases['memorised_epoch']}, grokked {phases['grokked_epoch']}, "
                 f"clean-up ends {phases['cleanup_end_epoch']}")
    lines += [f"note             {n}" for n in report["notes"]]
    print("\n".join(lines))


def _short(value) -> str:
    """One line for a JSON value: itself when short, else its shape."""
    text = json.dumps(value)
    if len(text) <= 100:
        return text
    if isinstance(value, list):
        shape = []
        while isinstance(value, list):
            shape.append(len(value))
            value = value[0] if value else None
        return f"[{' × '.join(map(str, shape))}] values (--json for all)"
    if isinstance(value, dict):
        return f"{{{len(value)} entries: {', '.join(list(map(str, value))[:6])}{', …' if len(value) > 6 else ''}}}"
    return text[:97] + "…"


def _print_generic(name: str, value) -> None:
    if not isinstance(value, dict):
        print(f"{name}  {_short(value)}")
        return
    width = max((len(str(k)) for k in value), default=0)
    for key, item in value.items():
        print(f"{key:<{width}}  {_short(item)}")


def _print_progress(fraction: float, text: str) -> None:
    print(f"\ranalyze: {text}", end="" if fraction < 1 else "\n", file=sys.stderr, flush=True)


def _options(spec, args) -> dict:
    accepted = inspect.signature(spec.compute).parameters
    options = {}
    if args.max_checkpoints is not None and "max_checkpoints" in accepted:
        options["max_checkpoints"] = int(args.max_checkpoints)
    if args.progress and "with_progress" in accepted:
        options["with_progress"] = True
    return options


def _stored_progress(args) -> int | None:
    """``--report progress`` from the run's stored records, without torch (0), or None to compute it."""
    from grokviz.analysis.reports import to_json
    from grokviz.analysis.reports.progress import read_stored

    if args.max_checkpoints is not None and args.max_checkpoints < 1:
        return None  # the normal path names the problem
    report = read_stored(args.run, args.max_checkpoints)
    if report is None:
        return None
    _print_report("progress", to_json(report), args.json)
    return 0


def _print_report(name: str, value, as_json: bool) -> None:
    if as_json:
        print(json.dumps(value, indent=2, allow_nan=False))
    elif name == "analyze":
        _print_analyze(value)
    else:
        _print_generic(name, value)


def cmd_analyze(args) -> int:
    from grokviz.analysis.reports import get, to_json  # torch-free until a report is looked up
    from grokviz.core.cli_options import task_spec_from_args

    if args.list:
        _print_list()
        return 0
    if not args.run:
        raise ParameterError("RUN", "analyze needs a run file (or --list)")
    name = args.report or "analyze"
    if name == "progress" and args.checkpoint is None and task_spec_from_args(args) is None:
        stored = _stored_progress(args)
        if stored is not None:
            return stored
    from grokviz.analysis.session import open_session
    from grokviz.core.perf import flush_denormals

    flush_denormals()  # before torch's first thread (grokviz.cli._main)
    try:
        spec = get(name)
    except KeyError as error:
        raise ParameterError("--report", error.args[0]) from None
    if args.max_checkpoints is not None and args.max_checkpoints < 1:
        raise ParameterError("--max-checkpoints", "must be at least 1")
    session = open_session(args.run, task=task_spec_from_args(args))
    epochs = session.epochs
    if args.checkpoint is not None and int(args.checkpoint) not in epochs:
        raise ParameterError("--checkpoint", f"no checkpoint at epoch {args.checkpoint}; available: "
                             f"{epochs[0]} … {epochs[-1]} ({len(epochs)} epochs)")
    options = _options(spec, args)
    slow = not spec.per_checkpoint or options.get("with_progress")
    value = to_json(session.report(name, args.checkpoint, on_progress=_print_progress if slow else None, **options))
    _print_report(name, value, args.json)
    return 0
