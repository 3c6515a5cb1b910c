"""The trainer: the notebook recipe (design.md §4) on the last-position fast path.

Full-batch AdamW on the training split, biases frozen, float64 cross-entropy of the ``=``
position's logits. Test loss and accuracies every ``eval_every`` epochs, a checkpoint every
``checkpoint_every`` epochs (and at epoch 0), optional lr warm-up and Grokfast. Epoch e means
"after e optimiser steps". Deterministic on CPU for fixed seeds, and resumable bit-for-bit.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Callable

import torch

from grokviz.core.adamw_step import DirectAdamW
from grokviz.core.config import ModelConfig, TrainConfig
from grokviz.core.data import SplitSpec, split_indices
from grokviz.core.device import resolve_device
from grokviz.core.errors import ParameterError
from grokviz.core.fastpath import InputLayout, last_position_logits
from grokviz.core.history import HistoryBuffer
from grokviz.core.model import GrokTransformer
from grokviz.core.perf import flush_denormals, tune_allocator
from grokviz.core.run import Run
from grokviz.core.tasks import Task
from grokviz.core.trainstep import TrainStep
from grokviz.core.weights import Weights

EVAL_CHUNK_LOGITS = 32 * 1024 * 1024  # logits per evaluation chunk (bounds memory at large p)


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


class _Float64CrossEntropy(torch.autograd.Function):
    """Mean −log softmax in float64 at the labels; backward (softmax − onehot)/N in one pass."""

    @staticmethod
    def forward(ctx, logits, labels):
        log_probs = logits.to(torch.float64).log_softmax(dim=-1)
        ctx.save_for_backward(log_probs, labels)
        ctx.dtype = logits.dtype
        return -log_probs.gather(-1, labels[:, None]).mean()

    @staticmethod
    def backward(ctx, grad):
        log_probs, labels = ctx.saved_tensors
        probs = log_probs.exp()
        probs[torch.arange(len(labels), device=labels.device), labels] -= 1.0
        return probs.mul_(grad / len(labels)).to(ctx.dtype), None


def cross_entropy_float64(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The notebooks' loss: mean −log softmax in float64 at the label."""
    return _Float64CrossEntropy.apply(logits, labels)


def _chunks(rows: torch.Tensor, p: int, max_logits: int = EVAL_CHUNK_LOGITS) -> list[InputLayout]:
    size = max(1, max_logits // p)
    return [InputLayout.from_rows(rows[i : i + size], p) for i in range(0, len(rows), size)]


@torch.no_grad()
def evaluate(model, layouts: list[InputLayout], labels: torch.Tensor) -> tuple[float, float]:
    """(loss, accuracy) over inputs split into layout chunks; ``labels`` concatenated in order.

    ``model``: a GrokTransformer or its :class:`~grokviz.core.weights.Weights`."""
    total_loss, correct, count, start = 0.0, 0, 0, 0
    for layout in layouts:
        logits = last_position_logits(model, layout)
        target = labels[start : start + len(layout)]
        start += len(layout)
        total_loss += float(cross_entropy_float64(logits, target)) * len(layout)
        correct += int((logits.argmax(-1) == target).sum())
        count += len(layout)
    return total_loss / max(count, 1), correct / max(count, 1)


class Trainer:
    """Train one run; ``run()`` returns a :class:`Run` (finished or cancelled).

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
    ):
        if model_config.p != task.p:
            raise ParameterError("p", f"model p = {model_config.p} but task p = {task.p}")
        self.task, self.split = task, split
        self.model_config, self.config = model_config, train_config
        self.control = control or TrainingControl()
        self.on_progress, self.on_checkpoint, self.on_save = on_progress, on_checkpoint, on_save
        self.device = resolve_device(train_config.device)
        self.resume_from = resume_from
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

    def _lr(self, step: int) -> float:
        warmup = self.config.warmup_steps
        return self.config.lr * (min(step / warmup, 1.0) if warmup > 0 else 1.0)

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
        labels = self.task.labels().to(device)
        train_rows, test_rows = train_rows.to(device), test_rows.to(device)
        # a-major order (the loss is a mean, so order is free): the attention-table gathers stay in cache
        train_rows, test_rows = train_rows.sort().values, test_rows.sort().values
        train_layout = InputLayout.from_rows(train_rows, p)
        train_labels = labels[train_rows]
        test_layouts, test_labels = _chunks(test_rows, p), labels[test_rows]
        alpha, lamb = cfg.grokfast.alpha, cfg.grokfast.lamb
        # autograd's bookkeeping costs as much as the MLP's matmuls on a CPU (trainstep.py); on
        # CUDA the autograd path keeps every op on the device
        hand_written = TrainStep(weights, train_layout, train_labels) if device.type == "cpu" else None
        adamw = DirectAdamW(optimizer)

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

        if not epochs:
            keep_checkpoint(0)
        began = last_save = time.perf_counter()
        epoch, status, diverged = start, "finished", None
        for step in range(start, cfg.epochs):
            if self.control.paused:
                paused_at = time.perf_counter()
                self.control.wait_while_paused()
                began += time.perf_counter() - paused_at  # pauses do not count as training time
            if self.control.cancelled:
                status = "cancelled"
                break
            if cfg.warmup_steps:
                for group in optimizer.param_groups:
                    group["lr"] = self._lr(step)
            evaluating = step % cfg.eval_every == 0
            if hand_written is not None:  # CPU: the step with hand-written gradients
                tables = hand_written.tables()
                if evaluating:  # test metrics of the weights after `step` steps, before this update
                    test_loss, test_acc = hand_written.evaluate(tables, test_layouts, test_labels)
                loss, train_acc = hand_written.step(tables, accuracy=evaluating)
            else:
                if evaluating:
                    test_loss, test_acc = evaluate(weights, test_layouts, test_labels)
                logits = last_position_logits(weights, train_layout)
                loss = cross_entropy_float64(logits, train_labels)
                loss.backward()
                if evaluating:
                    train_acc = float((logits.detach().argmax(-1) == train_labels).float().mean())
            if ema is not None:
                grads = [parameter.grad for parameter in trainable]
                torch._foreach_mul_(ema, alpha)
                torch._foreach_add_(ema, grads, alpha=1 - alpha)
                torch._foreach_add_(grads, ema, alpha=lamb)
            if hand_written is not None:  # its step replaces every gradient
                adamw.step()
            else:
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            epoch = step + 1
            if evaluating:
                train_loss = loss.item()
                if not math.isfinite(train_loss):  # diverged: stop, keep the last finite checkpoint
                    diverged = (step, train_loss)
                    break
                history.append(step, train_loss, test_loss, train_acc, test_acc)
                report(step, time.perf_counter() - began)
            if epoch % cfg.checkpoint_every == 0:
                if not _all_finite(trainable):
                    diverged = (epoch, math.nan)
                    break
                keep_checkpoint(epoch)
            now = time.perf_counter()
            if self.on_save is not None and now - last_save >= cfg.save_every_seconds and _all_finite(trainable):
                snapshot = self._snapshot(model, optimizer, ema, epoch, history, checkpoints, epochs, "running",
                                          wall_before + now - began)
                self.on_save(snapshot)
                last_save = time.perf_counter()
        if diverged is not None:
            return self._diverged(diverged, history, checkpoints, epochs,
                                  wall_before + time.perf_counter() - began)
        if not history.rows or history.rows[-1][0] != epoch:
            train_loss, train_acc = evaluate(weights, _chunks(train_rows, p), train_labels)
            test_loss, test_acc = evaluate(weights, test_layouts, test_labels)
            history.append(epoch, train_loss, test_loss, train_acc, test_acc)
        wall = wall_before + time.perf_counter() - began
        report(epoch, wall - wall_before)
        run = self._snapshot(model, optimizer, ema, epoch, history, checkpoints, epochs, status, wall)
        if self.on_save is not None:
            self.on_save(run)
        return run


    # -- divergence (issue 18): a non-finite loss stops training --------------------------------
    def _diverged(self, diverged, history, checkpoints, epochs, wall) -> Run:
        """The run rolled back to its last finite checkpoint, status ``diverged``, without resume state
        (the optimiser's moments are not finite any more); saved through ``on_save`` like any end."""
        at, value = diverged
        kept = epochs[-1]
        run = Run(
            task=self.task, model_config=self.model_config, train_config=self.config, split=self.split,
            history=history.history().truncate(kept), checkpoint_epochs=list(epochs),
            checkpoints=list(checkpoints), final_state_dict=dict(checkpoints[-1]), epochs_trained=int(kept),
            status="diverged", wall_time=wall, device=str(self.device), resume_state=None,
            explicit_indices=self.resume_from.explicit_indices if self.resume_from else None,
            notes=[f"training diverged at epoch {at} (train loss {value}); kept the last finite checkpoint, "
                   f"epoch {kept}"],
        )
        if self.on_save is not None:
            self.on_save(run)
        return run


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
