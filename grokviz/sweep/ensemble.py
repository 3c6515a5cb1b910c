"""Batched ensembles: a sweep group of same-shaped cells trained as one (for one GPU).

The CPU sweep path never imports this module. A group (same p, dims, split fraction, recipe:
:func:`group_key`) is stacked into one set of [E, ...] weights (:mod:`grokviz.core.lastpos.batched`)
and trained by the recipe's own schedule (:class:`grokviz.core.schedule.Schedule`) with the
ensemble step engine (:class:`grokviz.core.engines.EnsembleEngine`); each cell then gets its own
run file, with per-model optimiser state so the normal trainer can resume it. Tested on the CPU
against the per-cell trainer (the GPU itself cannot be exercised here).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch


def group_key(cell) -> tuple:
    """Cells that can share one ensemble: everything but seeds, data seeds and the task's labels."""
    options = dict(cell.options)
    return (cell.p, cell.frac_train, cell.lr, cell.weight_decay, cell.grokfast_lambda, options["epochs"],
            options["split"], options["grokfast"], options["grokfast_alpha"], options["warmup"],
            options["eval_every"], options["checkpoint_every"], options["d_model"], options["n_heads"],
            options["d_head"], options["d_mlp"], options.get("loss"), options.get("optimizer"), cell.task == "div")


class _Stop:
    """The schedule's control for a sweep: never paused, cancelled when ``stop()`` says so."""

    paused = False

    def __init__(self, stop):
        self._stop = stop

    @property
    def cancelled(self) -> bool:
        return bool(self._stop())

    def wait_while_paused(self) -> None:
        pass


def train_ensemble(cells, directory, device, *, stop=lambda: False, on_progress=None) -> list[dict]:
    """Train same-shaped cells (one :func:`group_key`) as one batched ensemble on ``device``.

    Each model gets exactly the per-cell recipe (init seed, split, AdamW, Grokfast, frozen biases,
    evaluation and checkpoint schedule) and its own run file. Returns the cells' index records.
    """
    from grokviz.core.data import split_indices
    from grokviz.core.engines import EnsembleEngine
    from grokviz.core.history import HistoryBuffer
    from grokviz.core.lastpos.batched import stack_models
    from grokviz.core.model import GrokTransformer
    from grokviz.core.run import Run
    from grokviz.core.runfile import save_run
    from grokviz.core.schedule import Schedule
    from grokviz.sweep.cell import build_configs, record_from_run

    configs = [build_configs(cell) for cell in cells]
    cfg = configs[0][3]
    models, train_rows, test_rows, labels_train, labels_test = [], [], [], [], []
    for task, split, model_config, _ in configs:
        model = GrokTransformer(model_config)
        model.freeze_biases()
        models.append(model.to(device))
        train, test = split_indices(task, split)
        labels = task.labels()
        train_rows.append(train), test_rows.append(test)
        labels_train.append(labels[train]), labels_test.append(labels[test])
    trainable_names = [n for n, prm in models[0].named_parameters() if prm.requires_grad]
    params, buffers = stack_models(models)
    frozen = {n: t.detach().requires_grad_(False) for n, t in params.items() if n not in trainable_names}
    params = {n: params[n].detach().requires_grad_(True) for n in trainable_names}
    buffers = {**buffers, **frozen}
    stack = lambda tensors: torch.stack(tensors).to(device)  # noqa: E731
    engine = EnsembleEngine(params, buffers, stack(train_rows), stack(test_rows), stack(labels_train),
                            stack(labels_test), configs[0][0].p, cfg.loss)
    # fused, as the per-cell trainer's: the saved optimiser state resumes there unchanged
    optimizer = torch.optim.AdamW(engine.trainable, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=cfg.betas,
                                  fused=True)
    ema = [torch.zeros_like(t) for t in engine.trainable] if cfg.grokfast.enabled else None
    count = len(cells)
    histories = [HistoryBuffer() for _ in cells]
    checkpoint_epochs: list[int] = []
    checkpoints: list[list[dict]] = [[] for _ in cells]

    def state(i: int) -> dict:
        weights = {**params, **buffers}
        return {n: weights[n][i].detach().to("cpu", copy=True) for n in models[0].state_dict()}

    def keep_checkpoint(epoch: int) -> None:
        checkpoint_epochs.append(epoch)
        for i in range(count):
            checkpoints[i].append(state(i))

    def optimizer_state(i: int) -> dict:
        full = optimizer.state_dict()
        per_model = {}
        for key, value in full["state"].items():
            per_model[key] = {k: (v[i].detach().cpu().clone() if k != "step" else v.detach().cpu().clone())
                              for k, v in value.items()}
        return {"state": per_model, "param_groups": full["param_groups"]}

    def runs(epoch: int, status: str, wall: float) -> list:
        out = []
        for i, (task, split, model_config, train_config) in enumerate(configs):
            out.append(Run(task=task, model_config=model_config, train_config=train_config, split=split,
                           history=histories[i].history(), checkpoint_epochs=list(checkpoint_epochs),
                           checkpoints=list(checkpoints[i]), final_state_dict=state(i), epochs_trained=epoch,
                           status=status, wall_time=wall, device=str(device),
                           resume_state={"optimizer": optimizer_state(i),
                                         "grokfast_ema": [t[i].detach().cpu() for t in ema] if ema else None,
                                         "rng_state": torch.get_rng_state()}))
        return out

    def save(all_runs) -> None:
        for cell, run in zip(cells, all_runs):
            save_run(run, Path(directory) / f"{cell.name}.pt")

    def evaluated(step: int, result, elapsed: float) -> None:
        for i in range(count):
            histories[i].append(step, float(result.loss[i]), float(result.test_loss[i]), float(result.train_acc[i]),
                                float(result.test_acc[i]))
        if on_progress:
            on_progress(step, cfg.epochs, float(result.test_acc.min()))

    keep_checkpoint(0)
    epoch, status, elapsed = Schedule(cfg, engine, optimizer, ema, _Stop(stop)).run(
        0, on_evaluated=evaluated, on_checkpoint=keep_checkpoint,
        on_save=lambda epoch, elapsed: save(runs(epoch, "running", elapsed)))
    began = time.perf_counter()
    final_metrics = engine.final_metrics()
    for i in range(count):
        if not histories[i].rows or histories[i].rows[-1][0] != epoch:
            histories[i].append(epoch, *(float(metric[i]) for metric in final_metrics))
    final = runs(epoch, status, elapsed + time.perf_counter() - began)
    save(final)
    return [record_from_run(cell, run) for cell, run in zip(cells, final)]
