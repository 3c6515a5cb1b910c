"""Training one sweep cell: build the configs, resume from its run file if one exists, save often.

:func:`run_cell` is the unit of work of every executor (process pool, in-process, Ray task). It
never raises: any error becomes a ``failed`` record with the error message.
"""

from __future__ import annotations

import os
import time
import traceback
from pathlib import Path

INDEX_FIELDS = (
    "name", "task", "m", "n", "p", "seed", "data_seed", "frac_train", "lr", "weight_decay", "grokfast",
    "grokfast_lambda", "epochs", "status", "epochs_done", "grokked_epoch", "train_loss", "test_loss",
    "train_acc", "test_acc", "wall_time", "device", "error", "file",
)


def base_record(cell) -> dict:
    record = {key: None for key in INDEX_FIELDS}
    data = cell.to_dict()
    record.update({k: data[k] for k in INDEX_FIELDS if k in data})
    record.update(status="pending", epochs_done=0, error="", file=f"{cell.name}.pt")
    return record


def record_from_run(cell, run, status: str | None = None) -> dict:
    """The index record of ``cell``'s run; a run that diverged (non-finite loss) is "failed",
    with its note as the error, never "pending" (resuming it would diverge again)."""
    record = base_record(cell)
    metrics = run.final_metrics()
    diverged = run.status == "diverged"
    if diverged:
        status = "failed"
        record["error"] = run.notes[-1] if run.notes else "training diverged"
    record.update(
        status=status or ("finished" if run.status == "finished" else "pending"),
        epochs_done=int(run.epochs_trained),
        grokked_epoch=run.grokked_epoch(),
        wall_time=round(float(run.wall_time), 3),
        device=str(run.device),
        **metrics,
    )
    return record


def build_configs(cell):
    """(task, split, model_config, train_config) of a cell; raises ParameterError on bad values."""
    from grokviz.core.config import GrokfastConfig, ModelConfig, TrainConfig
    from grokviz.core.data import SplitSpec
    from grokviz.core.tasks import Task

    opt = dict(cell.options)
    task = Task(cell.task, cell.p, cell.m, cell.n)
    split = SplitSpec(opt["split"], cell.data_seed, cell.frac_train)
    model_config = ModelConfig(p=cell.p, d_model=opt["d_model"], n_heads=opt["n_heads"], d_head=opt["d_head"],
                               d_mlp=opt["d_mlp"], seed=cell.seed)
    train_config = TrainConfig(
        epochs=opt["epochs"], lr=cell.lr, weight_decay=cell.weight_decay, checkpoint_every=opt["checkpoint_every"],
        eval_every=opt["eval_every"], warmup_steps=opt["warmup"],
        grokfast=GrokfastConfig(opt["grokfast"], opt["grokfast_alpha"], cell.grokfast_lambda),
        device=opt["device"], save_every_seconds=opt["save_every"],
        loss=opt.get("loss", "cross_entropy"), optimizer=opt.get("optimizer", "adamw"),
    )
    return task, split, model_config, train_config


def existing_run(cell, path: Path):
    """The cell's saved run when it matches the cell's configuration, else None."""
    from grokviz.core.errors import GrokvizError
    from grokviz.core.runfile import load_run

    if not path.exists():
        return None
    try:
        run = load_run(path)
    except GrokvizError:
        return None
    task, split, model_config, train_config = build_configs(cell)
    same = (run.task == task and run.split == split and run.model_config == model_config
            and {**run.train_config.to_dict(), "epochs": 0, "device": "", "save_every_seconds": 0}
            == {**train_config.to_dict(), "epochs": 0, "device": "", "save_every_seconds": 0})
    return run if same else None


def run_cell(cell, directory: str, *, threads: int | None = 1, control=None, events=None) -> dict:
    """Train (or finish) one cell into ``directory/<name>.pt``; return its index record.

    ``control`` is a TrainingControl (cancel → the trainer stops after the epoch and saves);
    ``events`` a callable receiving (name, kind, payload) progress events.
    """
    import torch

    from grokviz.core.perf import flush_denormals

    flush_denormals()  # first thing in a pool / Ray worker, so its torch threads inherit it
    if threads:
        torch.set_num_threads(threads)
    path = Path(directory) / f"{cell.name}.pt"
    started = time.perf_counter()
    emit = events or (lambda *args: None)
    try:
        from grokviz.core.runfile import save_run
        from grokviz.core.training import Trainer

        task, split, model_config, train_config = build_configs(cell)
        previous = existing_run(cell, path)
        if previous is not None and previous.epochs_trained >= train_config.epochs and previous.status == "finished":
            return record_from_run(cell, previous, "finished")
        if previous is not None and previous.resume_state is None:
            previous = None
        emit(cell.name, "start", {"epoch": previous.epochs_trained if previous else 0, "total": train_config.epochs})

        def on_progress(progress):
            emit(cell.name, "progress", {"epoch": progress.epoch, "total": progress.total_epochs,
                                         "test_acc": progress.test_acc, "eta": progress.eta})

        trainer = Trainer(task, split, model_config, train_config, control=control, on_progress=on_progress,
                          on_save=lambda run: save_run(run, path), resume_from=previous)
        run = trainer.run()
        return record_from_run(cell, run)
    except Exception as error:  # noqa: BLE001 - a failing cell never stops the sweep
        from grokviz.core.errors import GrokvizError

        record = base_record(cell)
        message = str(error) if isinstance(error, GrokvizError) else f"{type(error).__name__}: {error}"
        record.update(status="failed", error=" ".join(message.split()),
                      wall_time=round(time.perf_counter() - started, 3))
        if not isinstance(error, GrokvizError):
            record["traceback"] = traceback.format_exc(limit=5)
        return record
    finally:
        if os.environ.get("GROKVIZ_SWEEP_DEBUG"):
            print(f"[{os.getpid()}] {cell.name} done in {time.perf_counter() - started:.1f}s", flush=True)
