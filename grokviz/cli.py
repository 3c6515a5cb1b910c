"""``grokviz`` command line: thin sub-commands over core / analysis / gui.

Every bad parameter or file ends in one line on stderr and a non-zero exit (2), never a traceback.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

from grokviz.core.cli_options import add_task_options, task_from_args, task_spec_from_args
from grokviz.core.example import example_path
from grokviz.core.config import LOSSES, OPTIMIZERS

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit status 2
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> int:
    from grokviz.core.errors import display_path

    print(f"grokviz: error: {display_path(message)}", file=sys.stderr)  # one line, no raw control characters
    return code


# -- explicitly given options (resume conflicts) ------------------------------------------------

_UNSET = type("Unset", (), {"__repr__": lambda self: "<not given>"})()


def _track_given(parser) -> None:
    """Let :func:`_resolve_given` tell the options the user typed from defaults (``args.given``)."""
    defaults = {}
    for action in parser._actions:
        if action.option_strings and action.default is not argparse.SUPPRESS and action.dest != "help":
            defaults[action.dest] = action.default
            action.default = _UNSET
    parser.set_defaults(_given_defaults=defaults)


def _resolve_given(args) -> None:
    defaults = getattr(args, "_given_defaults", None)
    args.given = set()
    if defaults is None:
        return
    for dest, default in defaults.items():
        if getattr(args, dest, _UNSET) is _UNSET:
            setattr(args, dest, default)
        else:
            args.given.add(dest)


# -- sub-commands -------------------------------------------------------------------------------

# options whose value a resumed run takes from its file: (argparse dest, flag, value in the file)
RESUME_FIXED = (
    ("seed", "--seed", lambda run: run.model_config.seed),
    ("data_seed", "--data-seed", lambda run: run.split.seed),
    ("split", "--split", lambda run: run.split.kind),
    ("frac_train", "--frac-train", lambda run: run.split.frac_train),
    ("lr", "--lr", lambda run: run.train_config.lr),
    ("weight_decay", "--weight-decay", lambda run: run.train_config.weight_decay),
    ("checkpoint_every", "--checkpoint-every", lambda run: run.train_config.checkpoint_every),
    ("eval_every", "--eval-every", lambda run: run.train_config.eval_every),
    ("warmup", "--warmup", lambda run: run.train_config.warmup_steps),
    ("grokfast", "--grokfast", lambda run: run.train_config.grokfast.enabled),
    ("grokfast_alpha", "--grokfast-alpha", lambda run: run.train_config.grokfast.alpha),
    ("grokfast_lambda", "--grokfast-lambda", lambda run: run.train_config.grokfast.lamb),
    ("loss", "--loss", lambda run: run.train_config.loss),
    ("optimizer", "--optimizer", lambda run: run.train_config.optimizer),
    ("d_model", "--d-model", lambda run: run.model_config.d_model),
    ("n_heads", "--n-heads", lambda run: run.model_config.n_heads),
    ("d_head", "--d-head", lambda run: run.model_config.d_head),
    ("d_mlp", "--d-mlp", lambda run: run.model_config.d_mlp),
)


def resume_conflicts(args, previous) -> list[str]:
    """The options given on the command line that differ from the run being resumed."""
    from grokviz.core.errors import GrokvizError

    given = getattr(args, "given", set())
    conflicts = [f"{flag} {getattr(args, dest)} (the run has {value(previous)})"
                 for dest, flag, value in RESUME_FIXED if dest in given and getattr(args, dest) != value(previous)]
    if given & {"task", "m", "n", "p"}:
        try:
            wanted = task_from_args(args, p=args.p if "p" in given else previous.p) if args.task else None
        except GrokvizError:
            wanted = None
        if "p" in given and args.p != previous.p:
            conflicts.append(f"--p {args.p} (the run has {previous.p})")
        if wanted is None or wanted.spec != previous.task.spec:
            conflicts.append(f"--task {task_spec_from_args(args) or '?'} (the run is {previous.task.spec})")
    return conflicts


def _check_output(flag: str, path: Path, force: bool, resuming: Path | None = None) -> None:
    """Up front: ``path`` can be written, and it is not another file that would be replaced silently."""
    from grokviz.core.atomic import check_writable
    from grokviz.core.errors import ParameterError, display_path

    try:
        check_writable(path)
    except OSError as error:
        raise ParameterError(flag, f"cannot write {display_path(path)}: {error}") from None
    same = resuming is not None and path.exists() and resuming.exists() and path.samefile(resuming)
    if path.exists() and not same and not force:
        raise ParameterError(flag, f"{display_path(path)} already exists; pass --force to replace it"
                                   + ("" if resuming is not None else ", or --resume it to continue that run"))


def _saver(out: Path):
    """The crash- and full-disk-safe saver (:class:`~grokviz.core.fallback_save.FallbackSaver`),
    reporting on stderr."""
    from grokviz.core.fallback_save import FallbackSaver

    return FallbackSaver(out, lambda line: print(f"grokviz: {line}", file=sys.stderr))


def cmd_train(args) -> int:
    from grokviz.core.config import GrokfastConfig, ModelConfig, TrainConfig, check_memory_budget
    from grokviz.core.data import SplitSpec
    from grokviz.core.errors import ParameterError, display_path
    from grokviz.core.progressbar import ProgressBar, format_duration
    from grokviz.core.runfile import load_run
    from grokviz.core.training import Trainer, TrainingControl

    if args.out is not None and not args.out.strip():
        raise ParameterError("--out", "is empty; give a file name")
    if args.resume is not None and not args.resume.strip():
        raise ParameterError("--resume", "is empty; give a run file")
    if not args.out and not args.resume:
        raise ParameterError("--out", "required (the run file to write)")
    out = Path(args.out or args.resume)
    _check_output("--out", out, args.force, Path(args.resume) if args.resume else None)
    if args.resume:
        previous = load_run(args.resume)
        if previous.resume_state is None:
            raise ParameterError("--resume", f"{display_path(args.resume)} has no optimiser state to resume from")
        conflicts = resume_conflicts(args, previous)
        if conflicts:
            raise ParameterError("--resume", f"{display_path(args.resume)} was trained with other settings: "
                                 f"{'; '.join(conflicts)}. Drop those options (a resumed run keeps its recipe)")
        epochs = args.epochs if args.epochs is not None else previous.train_config.epochs
        overrides = {"epochs": epochs, **({"device": args.device} if args.device else {}),
                     **({"save_every_seconds": args.save_every} if "save_every" in args.given else {})}
        train_config = TrainConfig.from_dict({**previous.train_config.to_dict(), **overrides})
        if epochs <= previous.epochs_trained:
            raise ParameterError("--epochs", f"the run already has {previous.epochs_trained} epochs; ask for more")
        task, split, model_config = previous.task, previous.split, previous.model_config
    else:
        if not args.task:
            raise ParameterError("--task", "required (add, sub, mul, div or pow)")
        task = task_from_args(args)
        split = SplitSpec(args.split, args.data_seed, args.frac_train)
        model_config = ModelConfig(p=task.p, d_model=args.d_model, n_heads=args.n_heads, d_head=args.d_head,
                                   d_mlp=args.d_mlp, seed=args.seed)
        train_config = TrainConfig(
            epochs=args.epochs if args.epochs is not None else 25_000, lr=args.lr, weight_decay=args.weight_decay,
            checkpoint_every=args.checkpoint_every, eval_every=args.eval_every, warmup_steps=args.warmup,
            grokfast=GrokfastConfig(args.grokfast, args.grokfast_alpha, args.grokfast_lambda),
            device=args.device or "auto", save_every_seconds=args.save_every, loss=args.loss, optimizer=args.optimizer,
        )
        previous = None
    check_memory_budget(model_config, train_config, split.frac_train)
    control = TrainingControl()
    bar = ProgressBar(train_config.epochs)

    def on_progress(progress):
        bar.update(progress.epoch, f"epoch {progress.epoch}/{progress.total_epochs} "
                   f"train {progress.train_loss:.3g} test {progress.test_loss:.3g} "
                   f"acc {progress.test_acc * 100:.1f}% ETA {format_duration(progress.eta)}")

    def on_sigint(signum, frame):
        if control.cancelled:
            raise KeyboardInterrupt
        print("\ngrokviz: stopping after this epoch and saving (Ctrl-C again to abort)", file=sys.stderr)
        control.cancel()

    saver = _saver(out)
    save = saver
    live = None
    if not args.no_progress_measures:  # measured at each checkpoint and stored (grokviz.analysis.live)
        from grokviz.analysis.live import for_run_config, saving_with_progress

        live = for_run_config(task, split, previous)
        save = saving_with_progress(live, saver)
    trainer = Trainer(task, split, model_config, train_config, control=control, on_progress=on_progress,
                      on_checkpoint=live, on_save=save, resume_from=previous)
    old_handler = signal.signal(signal.SIGINT, on_sigint)
    try:
        run = trainer.run()
    finally:
        signal.signal(signal.SIGINT, old_handler)
        bar.close()
    if saver.path is None:
        return _fail(f"the trained run could not be saved anywhere ({len(saver.failed)} places tried, above)", 1)
    if run.status == "diverged":
        return _fail(f"{run.notes[-1]}; saved {display_path(saver.path)}", 1)
    last = run.history.last()
    grokked = run.grokked_epoch()
    print(f"{run.status}: {run.epochs_trained} epochs in {format_duration(run.wall_time)} on {run.device}; "
          f"train loss {last['train_loss']:.3g}, test loss {last['test_loss']:.3g}, "
          f"test acc {last['test_acc'] * 100:.1f}%, grokked at {grokked if grokked is not None else '—'}; "
          f"saved {display_path(saver.path)}", file=sys.stderr)
    if saver.path != out:
        return 1  # the run is safe, but not where it was asked for
    return 0 if run.status == "finished" else 130


def json_safe(info: dict) -> dict:
    """``info`` with NaN and ±inf as None, each one named in ``notes`` (for strict JSON)."""
    import math
    import numbers

    replaced = []

    def clean(value, where):
        if isinstance(value, dict):
            return {k: clean(v, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, numbers.Real) and not isinstance(value, (bool, int)) and not math.isfinite(value):
            replaced.append(f"{where} is {float(value)} (written as null)")
            return None
        return value

    cleaned = clean(info, "")
    if replaced:
        cleaned["notes"] = list(cleaned.get("notes") or []) + replaced
    return cleaned


def cmd_info(args) -> int:
    from grokviz.analysis.reports import to_json
    from grokviz.core.config import recipe_text
    from grokviz.analysis.session import open_session
    from grokviz.core.errors import display_path

    if args.example:
        path = example_path()
    elif args.run:
        path = args.run
    else:
        return _fail("info needs a RUN file or --example")
    summary = open_session(path, task=task_spec_from_args(args)).report("summary")
    if args.json:
        print(json.dumps(to_json(json_safe(summary)), indent=2, allow_nan=False))
        return 0
    info = to_json(summary)
    def fmt(x, pct=False):
        return "—" if x is None else (f"{x * 100:.2f} %" if pct else f"{x:.4g}")
    model = info["model"]
    lines = [
        f"file          {display_path(path)} ({info['source_format']})",
        f"task          {info['formula']}",
        f"model         d_model {model['d_model']}, {model['n_heads']} heads × d_head {model['d_head']}, d_mlp {model['d_mlp']}",
        f"split         {info['split']['kind']} seed {info['split']['seed']}, frac_train {info['split']['frac_train']}",
        f"training      {recipe_text(info['recipe'])}",
        f"epochs        {info['epochs']} ({info['n_checkpoints']} checkpoints, {info['status']})",
        f"train loss    {fmt(info['train_loss'])}   acc {fmt(info['train_acc'], True)}",
        f"test loss     {fmt(info['test_loss'])}   acc {fmt(info['test_acc'], True)}",
        f"grokked {'at' if info['phases']['basis'] == 'accuracy' else 'by'}    "
        f"{info['grokked_epoch'] if info['grokked_epoch'] is not None else 'not grokked'}"
        + ("" if info["phases"]["basis"] == "accuracy" or info["grokked_epoch"] is None else
           f" ({info['phases']['basis']}: mean test loss < 0.01·ln 2 ⇒ test accuracy ≥ 99 %)"
           if info["phases"]["basis"] == "loss bound" else f" ({info['phases']['basis']})"),
        f"phases        memorisation ends {info['phases']['memorisation_end']}, clean-up ends "
        f"{info['phases']['cleanup_end'] if info['phases']['cleanup_end'] is not None else '—'}",
        f"key freqs     {', '.join(map(str, info['key_freqs'])) or 'none' if info['key_freqs'] is not None else '—'}",
    ]
    lines += [f"note          {note}" for note in info["notes"]]
    print("\n".join(lines))
    return 0


def cmd_convert(args) -> int:
    from grokviz.core.errors import ParameterError, display_path
    from grokviz.core.runfile import load_run

    if not args.output.strip():
        raise ParameterError("OUT", "is empty; give a file name")
    output = Path(args.output)
    same = output.exists() and Path(args.input).exists() and output.samefile(args.input)
    _check_output("OUT", output, args.force or same)
    run = load_run(args.input, task=task_spec_from_args(args))
    from grokviz.analysis.progress import progress_measures

    progress_measures(run)  # computed once (reused when stored), kept in the converted file
    from grokviz.analysis.reports.checkpoint_accuracy import keep_for_saving
    from grokviz.analysis.session import session_of

    keep_for_saving(session_of(run))  # a losses-only history's accuracies at the checkpoints, kept in the file too
    saver = _saver(output)
    saver(run)
    if saver.path is None:
        return _fail(f"the converted run could not be saved anywhere ({len(saver.failed)} places tried, above)", 1)
    print(f"wrote {display_path(saver.path)}: {run.task.formula}, {run.epochs_trained} epochs, "
          f"{len(run.checkpoint_epochs)} checkpoints" + "".join(f"; {n}" for n in run.notes), file=sys.stderr)
    return 0 if saver.path == output else 1


def cmd_gui(args) -> int:
    from grokviz.gui.launch import main as gui_main

    return gui_main([args.run] if getattr(args, "run", None) else [])


# -- parser --------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="grokviz", description="Train, load and explore transformers that grok modular arithmetic.")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    train = sub.add_parser("train", help="train a run (fast path, background-safe, resumable)")
    add_task_options(train)
    train.add_argument("--epochs", type=int, default=None, help="total epochs (default 25000)")
    train.add_argument("--out", help="run file to write")
    train.add_argument("--resume", help="continue this run file (written back to --out or itself)")
    train.add_argument("--force", action="store_true", help="replace an existing --out file")
    train.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None)
    train.add_argument("--seed", type=int, default=999, help="model init seed, in [0, 2**63)")
    train.add_argument("--data-seed", type=int, default=598, help="split seed, in [0, 2**63)")
    train.add_argument("--split", choices=["randperm", "shuffle"], default="randperm")
    train.add_argument("--frac-train", type=float, default=0.3)
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--weight-decay", type=float, default=1.0)
    train.add_argument("--checkpoint-every", type=int, default=100)
    train.add_argument("--eval-every", type=int, default=10)
    train.add_argument("--warmup", type=int, default=0, help="lr warm-up steps (Nanda used 10)")
    train.add_argument("--grokfast", action="store_true", help="Grokfast-EMA gradient filter")
    train.add_argument("--grokfast-alpha", type=float, default=0.98)
    train.add_argument("--grokfast-lambda", type=float, default=2.0)
    train.add_argument("--loss", choices=LOSSES, default="cross_entropy",
                       help="cross_entropy (the notebooks') or stablemax (Prieto et al. 2025, design.md §6b)")
    train.add_argument("--optimizer", choices=OPTIMIZERS, default="adamw",
                       help="adamw, or orthoadamw: ⊥Grad (the gradient's component along the weights removed) then AdamW")
    train.add_argument("--d-model", type=int, default=128)
    train.add_argument("--n-heads", type=int, default=4)
    train.add_argument("--d-head", type=int, default=32)
    train.add_argument("--d-mlp", type=int, default=512)
    train.add_argument("--save-every", type=float, default=120.0, help="seconds between crash-safe saves")
    train.add_argument("--no-progress-measures", action="store_true",
                       help="do not compute and store the progress measures at each checkpoint")
    train.set_defaults(handler=cmd_train)
    _track_given(train)  # after every option: a resumed run refuses options that differ from its file

    info = sub.add_parser("info", help="summarise a run file (any supported format)")
    info.add_argument("run", nargs="?")
    info.add_argument("--example", action="store_true", help="the bundled example run")
    info.add_argument("--json", action="store_true")
    add_task_options(info, p_required=None)
    info.set_defaults(handler=cmd_info)

    convert = sub.add_parser("convert", help="write any supported run file as a grokviz run file")
    convert.add_argument("input")
    convert.add_argument("output")
    convert.add_argument("--force", action="store_true", help="replace an existing OUT file")
    add_task_options(convert, p_required=None)
    convert.set_defaults(handler=cmd_convert)

    gui = sub.add_parser("gui", help="open the desktop app")
    gui.add_argument("run", nargs="?")
    gui.set_defaults(handler=cmd_gui)

    for register in _extensions():
        register(sub)

    return parser


def _extensions():
    """Sub-commands living next to their layer (analysis, export, sweep, bench), imported by name: the
    command line sits below bench (design.md §1) and never imports it."""
    registers = []
    for module_name in ("grokviz.analysis.cli", "grokviz.gui.export_cli", "grokviz.sweep.cli", "grokviz.bench"):
        try:
            module = __import__(module_name, fromlist=["register"])
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue
        registers.append(module.register)
    return registers


def _version() -> str:
    from grokviz import __version__

    return f"grokviz {__version__}"


def main(argv=None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # also during start-up (imports, parsing): one line, no traceback
        return _fail("interrupted", 130)


def _main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        return cmd_gui(argparse.Namespace(run=None))
    parser = build_parser()
    args = parser.parse_args(argv)
    _resolve_given(args)
    # before any torch thread exists, so every one inherits it; the app shows its window before
    # importing torch (its jobs flush), and ``analyze`` may answer from the file without torch
    if argv[0] != "gui" and not getattr(args, "flushes_denormals_itself", False):
        from grokviz.core.perf import flush_denormals

        flush_denormals()
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    from grokviz.core.errors import GrokvizError

    try:
        return int(args.handler(args) or 0)
    except GrokvizError as error:
        return _fail(str(error))
    except MemoryError:
        return _fail("out of memory (try a smaller p or fewer checkpoints)", 1)
    except OSError as error:  # a file the command reads or writes: one line
        from grokviz.core.atomic import describe_os_error

        where = f"{error.filename}: " if getattr(error, "filename", None) else ""
        return _fail(f"{where}{describe_os_error(error) if error.errno else error}")


if __name__ == "__main__":
    raise SystemExit(main())
