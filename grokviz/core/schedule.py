"""The recipe's schedule (design.md §4), once for every step engine (:mod:`grokviz.core.engines`).

Epoch e means "after e optimiser steps". Each epoch: pause / cancel, the lr warm-up, one
engine step (with the metrics every ``eval_every`` epochs, of the weights before the update),
Grokfast's gradient filter, ⊥Grad's projection (``optimizer = "orthoadamw"``, after Grokfast so the
gradient AdamW sees is orthogonal to the weights), one AdamW update, then a checkpoint every ``checkpoint_every``
epochs and a crash-safe save every ``save_every_seconds``. What to record is the caller's: the
single-model :class:`~grokviz.core.training.Trainer` and the sweep's ensemble pass callbacks.
"""

from __future__ import annotations

import time
from typing import Callable

import torch

from grokviz.core.adamw_step import DirectAdamW
from grokviz.core.config import TrainConfig
from grokviz.core.engines import StepResult
from grokviz.core.orthograd import project_gradients


def warmup_lr(config: TrainConfig, step: int) -> float:
    """The learning rate at ``step``: linear warm-up over ``warmup_steps``, then constant."""
    warmup = config.warmup_steps
    return config.lr * (min(step / warmup, 1.0) if warmup > 0 else 1.0)


class Schedule:
    """Runs epochs ``start`` … ``config.epochs`` of one engine with its optimiser.

    ``optimizer``: a fused AdamW over ``engine.trainable`` (stepped through :class:`DirectAdamW`);
    ``ema``: Grokfast's gradient averages (one per trainable tensor) or None; ``control``: a
    :class:`~grokviz.core.training.TrainingControl` (``paused``, ``cancelled``, ``wait_while_paused``).
    """

    def __init__(self, config: TrainConfig, engine, optimizer: torch.optim.Optimizer, ema, control):
        self.config, self.engine, self.optimizer, self.ema, self.control = config, engine, optimizer, ema, control
        self._adamw = DirectAdamW(optimizer)

    def run(self, start: int, *, on_evaluated: Callable[[int, StepResult, float], None],
            on_checkpoint: Callable[[int], None], on_save: Callable[[int, float], None] | None = None):
        """(epochs reached, "finished" or "cancelled", seconds spent training: pauses excluded).

        ``on_evaluated(step, result, seconds)`` after every evaluated step; ``on_checkpoint(epoch)``
        every ``checkpoint_every`` epochs; ``on_save(epoch, seconds)`` every ``save_every_seconds``.
        """
        cfg, engine, control, ema = self.config, self.engine, self.control, self.ema
        alpha, lamb = cfg.grokfast.alpha, cfg.grokfast.lamb
        orthogonal = cfg.optimizer == "orthoadamw"
        began = last_save = time.perf_counter()
        epoch, status = start, "finished"
        for step in range(start, cfg.epochs):
            if control.paused:
                paused_at = time.perf_counter()
                control.wait_while_paused()
                began += time.perf_counter() - paused_at  # pauses do not count as training time
            if control.cancelled:
                status = "cancelled"
                break
            if cfg.warmup_steps:
                for group in self.optimizer.param_groups:
                    group["lr"] = warmup_lr(cfg, step)
            evaluating = step % cfg.eval_every == 0
            result = engine.step(evaluating)
            if ema is not None:
                grads = [tensor.grad for tensor in engine.trainable]
                torch._foreach_mul_(ema, alpha)
                torch._foreach_add_(ema, grads, alpha=1 - alpha)
                torch._foreach_add_(grads, ema, alpha=lamb)
            if orthogonal:
                project_gradients(engine.trainable, stacked=engine.stacked)
            self._adamw.step()
            epoch = step + 1
            if evaluating:
                on_evaluated(step, result, time.perf_counter() - began)
            if epoch % cfg.checkpoint_every == 0:
                on_checkpoint(epoch)
            now = time.perf_counter()
            if on_save is not None and now - last_save >= cfg.save_every_seconds:
                on_save(epoch, now - began)
                last_save = time.perf_counter()
        return epoch, status, time.perf_counter() - began
