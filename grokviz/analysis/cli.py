"""``grokviz analyze RUN``: key frequencies, neuron clusters, symmetry, c/2 model and progress measures.

Registered by :func:`grokviz.cli.build_parser` through ``register(subparsers)``.
"""

from __future__ import annotations

import json
import math
import sys

from grokviz.core.errors import ParameterError

SYMMETRY_HOOKS = (
    "hook_embed", "blocks.0.hook_resid_pre", "blocks.0.attn.hook_z", "blocks.0.hook_attn_out",
    "blocks.0.hook_resid_mid", "blocks.0.mlp.hook_pre", "blocks.0.mlp.hook_post", "blocks.0.hook_mlp_out",
    "blocks.0.hook_resid_post", "logits",
)


def register(subparsers) -> None:
    from grokviz.core.cli_options import add_task_options

    parser = subparsers.add_parser("analyze", help="analyse a run: key frequencies, symmetry, progress measures")
    parser.add_argument("run", help="run file (any supported format)")
    parser.add_argument("--checkpoint", type=int, default=None, help="epoch to analyse (default: final)")
    add_task_options(parser, p_required=None)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--progress", action="store_true", help="add per-checkpoint progress measures")
    parser.set_defaults(handler=cmd_analyze)


def _clean(value):
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def analyze(run, epoch=None, progress: bool = False, on_progress=None) -> dict:
    """The ``analyze`` report as a plain dict (see the module docstring)."""
    from grokviz.analysis.cache import ActivationStore
    from grokviz.analysis.neurons import neuron_clusters, neuron_frequency_fraction
    from grokviz.analysis.phases import detect_phases
    from grokviz.analysis.progress import ProgressSetup, measure_model, progress_measures
    from grokviz.analysis.reorder import layout_note
    from grokviz.analysis.spectrum import key_frequency_report
    from grokviz.analysis.symmetry import hook_c2_r2, hook_symmetry

    if epoch is not None and int(epoch) not in run.epochs:
        raise ParameterError("--checkpoint", f"no checkpoint at epoch {epoch}; available: "
                             f"{run.epochs[0]} … {run.epochs[-1]} ({len(run.epochs)} epochs)")
    epoch = run.epochs[-1] if epoch is None else int(epoch)
    model = run.model(epoch)
    fraction = neuron_frequency_fraction(model)
    keys = key_frequency_report(model, fraction)
    clusters = neuron_clusters(fraction)
    store = ActivationStore(run, max_checkpoints=1)
    note = layout_note(run.task, "ca")
    symmetry = hook_symmetry(store, run.task, SYMMETRY_HOOKS, epoch, position=2)
    symmetry_at_a = hook_symmetry(store, run.task, ("hook_embed", "blocks.0.hook_resid_pre"), epoch, position=0)
    c2 = hook_c2_r2(store, run.task, keys.frequencies, SYMMETRY_HOOKS, epoch) if not note else {}
    train_rows, test_rows = run.indices()
    measures = measure_model(ProgressSetup.build(run.task, train_rows, test_rows, keys.frequencies), model)
    report = {
        "run": str(run.path or ""),
        "task": run.task.spec,
        "formula": run.task.formula,
        "epoch": epoch,
        "key_freqs": keys.frequencies,
        "key_freq_scores": keys.scores,
        "key_freqs_W_U": keys.from_W_U.frequencies,
        "key_freqs_agree": keys.agree,
        "neuron_clusters": {k: n for k, n in keys.cluster_sizes.items()},
        "neurons_clustered": sum(len(v) for v in clusters.values()),
        "symmetry": symmetry,
        "symmetry_at_a": symmetry_at_a,
        "c2_model_r2": c2,
        "layout_note": note,
        "restricted_loss": measures["restricted_loss"],
        "excluded_loss": measures["excluded_loss"],
        "excluded_loss_per_freq": measures["excluded_loss_per_freq"],
        "train_loss": measures["train_loss"],
        "test_loss": measures["test_loss"],
        "cos_sim": measures["cos_sim"],
        "weight_norm": measures["weight_norm"],
        "gini_W_E": measures["gini_W_E"],
        "gini_W_L": measures["gini_W_L"],
        "notes": keys.notes,
    }
    table = None
    if progress:
        table = progress_measures(run, key_freqs=keys.frequencies, on_progress=on_progress)
        report["progress"] = table.records()
    report["phases"] = detect_phases(run.history, table).to_dict()
    return _clean(report)


def _print_text(report: dict) -> None:
    def fmt(x):
        return "—" if x is None else f"{x:.4g}"

    lines = [
        f"{report['formula']}, epoch {report['epoch']}",
        f"key freqs        {', '.join(map(str, report['key_freqs'])) or 'none'}"
        + ("" if report["key_freqs_agree"] else f"   (W_U: {report['key_freqs_W_U']})"),
        "neuron clusters  " + (", ".join(f"{k}: {n}" for k, n in report["neuron_clusters"].items()) or "none"),
        f"losses           train {fmt(report['train_loss'])}, test {fmt(report['test_loss'])}, "
        f"restricted {fmt(report['restricted_loss'])}, excluded {fmt(report['excluded_loss'])}",
        "symmetry at =    " + ", ".join(f"{h.split('.')[-1]} {fmt(s)}" for h, s in report["symmetry"].items()),
    ]
    if report["c2_model_r2"]:
        lines.append("c/2 model R²     " + ", ".join(f"{h.split('.')[-1]} {fmt(s)}" for h, s in report["c2_model_r2"].items()))
    if report["layout_note"]:
        lines.append(f"note             {report['layout_note']}")
    phases = report["phases"]
    lines.append(f"phases           memorised {phases['memorised_epoch']}, grokked {phases['grokked_epoch']}, "
                 f"clean-up ends {phases['cleanup_end_epoch']}")
    lines += [f"note             {n}" for n in report["notes"]]
    print("\n".join(lines))


def _print_progress(done: int, total: int, epoch: int) -> None:
    print(f"\ranalyze: checkpoint {done}/{total} (epoch {epoch})", end="" if done < total else "\n",
          file=sys.stderr, flush=True)


def cmd_analyze(args) -> int:
    from grokviz.core.cli_options import task_spec_from_args
    from grokviz.core.runfile import load_run

    run = load_run(args.run, task=task_spec_from_args(args))
    report = analyze(run, args.checkpoint, args.progress, _print_progress if args.progress else None)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_text(report)
    return 0
