"""The trainer: the notebook recipe (design.md §4) on the last-position fast path.

Full-batch AdamW on the training split, biases frozen, float64 cross-entropy of the ``=``
position's logits. Test loss and accuracies every ``eval_every`` epochs, a checkpoint every
``checkpoint_every`` epochs (and at epoch 0), optional lr warm-up and Grokfast. Epoch e means
"after e optimiser steps". Deterministic on CPU for fixed seeds, and resumable bit-for-bit.

:class:`Trainer` sets up one run (model, optimiser, split, resume state) and records it; the
epochs themselves are :class:`grokviz.core.schedule.Schedule`'s, with a step engine from
:mod:`grokviz.core.engines` (hand-written on a CPU, autograd elsewhere; ``engine=`` forces one).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Callable

import torch

from grokviz.core.config import ModelConfig, TrainConfig
from grokviz.core.data import SplitSpec, split_indices
from grokviz.core.device import resolve_device
from grokviz.core.engines import ENGINES, Split, single_engine
from grokviz.core.errors import ParameterError
from grokviz.core.history import HistoryBuffer
from grokviz.core.model import GrokTransformer
from grokviz.core.perf import flush_denormals, tune_allocator
from grokviz.core.run import Run
from grokviz.core.schedule import Schedule
from grokviz.core.tasks import Task
from grokviz.core.weights import Weights

class TrainingControl:
    """Thread-safe pause / resume / cancel, checked by the trainer once per epoch."""

    def __init__(self):
        self._cancel = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def cancel(self) -> None:
        self._cancel.set()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_while_paused(self) -> None:
        while not self._running.wait(0.1):
            pass


@dataclass(frozen=True)
class Progress:
    epoch: int
    total_epochs: int
    train_loss: float
    test_loss: float
    train_acc: float
    test_acc: float
    elapsed: float
    eta: float
    ms_per_epoch: float


class Trainer:
    """Train one run; ``run()`` returns a :class:`Run` (finished or cancelled).

    ``engine``: ``auto`` (hand-written on a CPU, autograd on CUDA), ``hand-written`` or
    ``autograd`` (the CUDA path, which the tests run on the CPU).

    Late in a run, float32 denormals make CPU steps ~2× slower: ``run()`` flushes them on its
    own thread, but torch's worker threads only inherit that if they start afterwards, so a
    script should call :func:`grokviz.core.perf.flush_denormals` before its first torch work
    (the CLI, the app and sweep workers do).
    """

    def __init__(
        self,
        task: Task,
        split: SplitSpec,
        model_config: ModelConfig,
        train_config: TrainConfig,
        *,
        control: TrainingControl | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        on_checkpoint: Callable[[int, dict], None] | None = None,
        on_save: Callable[[Run], None] | None = None,
        resume_from: Run | None = None,
        engine: str = "auto",
    ):
        if model_config.p != task.p:
            raise ParameterError("p", f"model p = {model_config.p} but task p = {task.p}")
        if engine not in ENGINES:
            raise ParameterError("engine", f"must be one of {', '.join(ENGINES)}, got {engine!r}")
        self.task, self.split = task, split
        self.model_config, self.config = model_config, train_config
        self.control = control or TrainingControl()
        self.on_progress, self.on_checkpoint, self.on_save = on_progress, on_checkpoint, on_save
        self.device = resolve_device(train_config.device)
        self.resume_from = resume_from
        self.engine = engine
        tune_allocator()

    # -- set-up -------------------------------------------------------------------
    def _build(self):
        cfg, device = self.config, self.device
        resume = self.resume_from
        model = GrokTransformer(self.model_config, init=resume is None)
        if resume is not None:
            model.load_state_dict(resume.state_dict(None))
        model.freeze_biases()
        model.to(device)
        trainable = [p for p in model.parameters() if p.requires_grad]
        # fused: one deterministic kernel over all parameters (CPU since torch 2.4, and CUDA)
        optimizer = torch.optim.AdamW(
            trainable, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=cfg.betas, fused=True
        )
        ema = [torch.zeros_like(p) for p in trainable] if cfg.grokfast.enabled else None
        if resume is not None:
            check_resume_state(resume.resume_state, trainable, cfg.grokfast.enabled)
            optimizer.load_state_dict(resume.resume_state["optimizer"])
            if ema is not None:
                ema = [t.to(device) for t in resume.resume_state["grokfast_ema"]]
        return model, trainable, optimizer, ema

    def _snapshot(self, model, optimizer, ema, epoch, history, checkpoints, epochs, status, wall) -> Run:
        final = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        return Run(
            task=self.task,
            model_config=self.model_config,
            train_config=self.config,
            split=self.split,
            history=history.history(),
            checkpoint_epochs=list(epochs),
            checkpoints=list(checkpoints),
            final_state_dict=final,
            epochs_trained=int(epoch),
            status=status,
            wall_time=wall,
            device=str(self.device),
            resume_state={
                "optimizer": _to_cpu(optimizer.state_dict()),
                "grokfast_ema": [t.detach().cpu() for t in ema] if ema is not None else None,
                "rng_state": torch.get_rng_state(),
            },
            explicit_indices=self.resume_from.explicit_indices if self.resume_from else None,
        )

    # -- the loop -----------------------------------------------------------------
    def run(self) -> Run:
        flush_denormals()  # memorised runs underflow into denormals: 2× slower steps without this
        cfg, device, p = self.config, self.device, self.task.p
        model, trainable, optimizer, ema = self._build()
        weights = Weights.of(model, detach=False)  # the parameters themselves, gathered once
        resume = self.resume_from
        if resume is not None:
            train_rows, test_rows = resume.indices()
            start = int(resume.epochs_trained)
            history = HistoryBuffer(resume.history.truncate(start - 1))
            epochs = [int(e) for e in resume.checkpoint_epochs]
            checkpoints = list(resume.checkpoints)
            wall_before = float(resume.wall_time)
        else:
            train_rows, test_rows = split_indices(self.task, self.split)
            start, history, epochs, checkpoints, wall_before = 0, HistoryBuffer(), [], [], 0.0
        split = Split.of(train_rows.to(device), test_rows.to(device), self.task.labels().to(device), p)
        engine = single_engine(self.engine, device, weights, trainable, split, cfg.loss)

        def keep_checkpoint(epoch: int) -> None:
            state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            if epochs and epochs[-1] == epoch:
                checkpoints[-1] = state
            else:
                epochs.append(epoch)
                checkpoints.append(state)
            if self.on_checkpoint:
                self.on_checkpoint(epoch, state)

        def report(epoch: int, elapsed: float) -> None:
            if self.on_progress is None or not history.rows:
                return
            _, train_loss, test_loss, train_acc, test_acc = history.rows[-1]
            done = max(epoch - start, 1)
            per_epoch = elapsed / done
            self.on_progress(
                Progress(epoch, cfg.epochs, train_loss, test_loss, train_acc, test_acc, elapsed + wall_before,
                         per_epoch * (cfg.epochs - epoch), per_epoch * 1000)
            )

        def evaluated(step: int, result, elapsed: float) -> None:
            train_loss = result.loss.item()
            if not math.isfinite(train_loss):
                raise _Diverged(step, train_loss)
            history.append(step, train_loss, result.test_loss, result.train_acc, result.test_acc)
            report(step, elapsed)

        def finite_checkpoint(epoch: int) -> None:
            if not _all_finite(trainable):
                raise _Diverged(epoch, math.nan)
            keep_checkpoint(epoch)

        def save(epoch: int, elapsed: float) -> None:
            if not _all_finite(trainable):
                return  # diverging: the next evaluation or checkpoint stops the run
            self.on_save(self._snapshot(model, optimizer, ema, epoch, history, checkpoints, epochs, "running",
                                        wall_before + elapsed))

        if not epochs:
            keep_checkpoint(0)
        began = time.perf_counter()
        try:
            epoch, status, elapsed = Schedule(cfg, engine, optimizer, ema, self.control).run(
                start, on_evaluated=evaluated, on_checkpoint=finite_checkpoint,
                on_save=save if self.on_save is not None else None)
        except _Diverged as diverged:  # a non-finite loss stops training at the last finite checkpoint
            return self._diverged(diverged, history, checkpoints, epochs,
                                  wall_before + time.perf_counter() - began)
        if not history.rows or history.rows[-1][0] != epoch:
            began = time.perf_counter()
            history.append(epoch, *engine.final_metrics())
            elapsed += time.perf_counter() - began
        report(epoch, elapsed)
        run = self._snapshot(model, optimizer, ema, epoch, history, checkpoints, epochs, status, wall_before + elapsed)
        if self.on_save is not None:
            self.on_save(run)
        return run


    # -- divergence (issue 18): a non-finite loss stops training --------------------------------
    def _diverged(self, diverged, history, checkpoints, epochs, wall) -> Run:
        """The run rolled back to its last finite checkpoint, status ``diverged``, without resume state
        (the optimiser's moments are not finite any more); saved through ``on_save`` like any end."""
        kept = epochs[-1]
        run = Run(
            task=self.task, model_config=self.model_config, train_config=self.config, split=self.split,
            history=history.history().truncate(kept), checkpoint_epochs=list(epochs),
            checkpoints=list(checkpoints), final_state_dict=dict(checkpoints[-1]), epochs_trained=int(kept),
            status="diverged", wall_time=wall, device=str(self.device), resume_state=None,
            explicit_indices=self.resume_from.explicit_indices if self.resume_from else None,
            notes=[f"training diverged at epoch {diverged.epoch} (train loss {diverged.loss}); kept the last "
                   f"finite checkpoint, epoch {kept}"],
        )
        if self.on_save is not None:
            self.on_save(run)
        return run


class _Diverged(Exception):
    def __init__(self, epoch: int, loss: float):
        super().__init__(epoch, loss)
        self.epoch, self.loss = epoch, loss


def _all_finite(tensors) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in tensors)


def check_resume_state(state, trainable, grokfast: bool) -> None:
    """A resume state must hold an AdamW state for every trainable tensor (and the Grokfast EMA
    when Grokfast is on); an empty or partial one would silently restart the optimiser."""
    def bad(reason):
        raise ParameterError("--resume", f"the file's optimiser state is unusable ({reason}); "
                             "it cannot be resumed bit-for-bit")

    if not isinstance(state, dict) or not state:
        bad("missing or empty")
    optimizer = state.get("optimizer")
    if not isinstance(optimizer, dict) or not isinstance(optimizer.get("state"), dict) \
            or not isinstance(optimizer.get("param_groups"), list):
        bad("no AdamW state")
    moments = optimizer["state"]
    if len(moments) != len(trainable):
        bad(f"{len(moments)} parameter states for {len(trainable)} trainable tensors")
    for index, parameter in enumerate(trainable):
        entry = moments.get(index)
        if not isinstance(entry, dict):
            bad(f"no state for parameter {index}")
        for key in ("exp_avg", "exp_avg_sq"):
            tensor = entry.get(key)
            if not isinstance(tensor, torch.Tensor) or tuple(tensor.shape) != tuple(parameter.shape):
                bad(f"parameter {index}: {key} missing or of the wrong shape")
            if not bool(torch.isfinite(tensor).all()):
                bad(f"parameter {index}: {key} is not finite")
    if grokfast:
        ema = state.get("grokfast_ema")
        if not isinstance(ema, (list, tuple)) or len(ema) != len(trainable) or any(
                not isinstance(t, torch.Tensor) or tuple(t.shape) != tuple(q.shape) for t, q in zip(ema, trainable)):
            bad("Grokfast is on but its EMA is missing or of the wrong shape")


def _to_cpu(value):
    """Deep-copy tensors inside plain containers to the CPU (optimizer state for saving)."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(v) for v in value)
    return value


def train(task: Task, split: SplitSpec | None = None, model_config: ModelConfig | None = None,
          train_config: TrainConfig | None = None, **kwargs) -> Run:
    """Convenience: train with defaults for anything not given."""
    split = split or SplitSpec()
    model_config = model_config or ModelConfig(p=task.p)
    train_config = train_config or TrainConfig()
    return Trainer(task, split, model_config, train_config, **kwargs).run()
