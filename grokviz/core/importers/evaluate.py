"""Accuracies and losses of imported weights, computed with the last-position fast path."""

from __future__ import annotations

import torch

from grokviz.core.config import ModelConfig
from grokviz.core.tasks import Task

# Accuracies are computed with the fast path at up to this many checkpoints (plus the final
# weights); the other rows keep NaN. 32 checkpoints at p = 113 take about two seconds on a CPU.
MAX_ACCURACY_CHECKPOINTS = 32


class _Evaluator:
    """Logits of all p² inputs for a sequence of state dicts, with one model and one layout."""

    def __init__(self, cfg: ModelConfig):
        from grokviz.core.lastpos import InputLayout
        from grokviz.core.model import GrokTransformer

        self.p = cfg.p
        self.model = GrokTransformer(cfg, init=False).eval()
        self.layout = InputLayout.from_rows(torch.arange(cfg.p * cfg.p), cfg.p)

    @torch.inference_mode()
    def logits(self, state: dict) -> torch.Tensor:
        from grokviz.core.lastpos import last_position_logits

        self.model.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in state.items()})
        return last_position_logits(self.model, self.layout)


def _accuracy(logits: torch.Tensor, labels: torch.Tensor, rows: torch.Tensor) -> float:
    labels = labels[rows]
    valid = labels >= 0
    if not bool(valid.any()):
        return float("nan")
    return float((logits[rows][valid].argmax(-1) == labels[valid]).double().mean())


def _loss(logits: torch.Tensor, labels: torch.Tensor, rows: torch.Tensor) -> float:
    labels = labels[rows]
    valid = labels >= 0
    if not bool(valid.any()):
        return float("nan")
    log_probs = logits[rows][valid].double().log_softmax(-1)
    return float(-log_probs.gather(-1, labels[valid][:, None]).mean())


def _accuracy_epochs(checkpoint_epochs: list[int], limit: int = MAX_ACCURACY_CHECKPOINTS) -> list[int]:
    """Indices of at most ``limit`` checkpoints, evenly spread, always including the last."""
    count = len(checkpoint_epochs)
    if count <= limit:
        return list(range(count))
    picks = {round(i * (count - 1) / (limit - 1)) for i in range(limit)}
    return sorted(picks)


def _evaluate(evaluator, task: Task, train_rows, test_rows, checkpoint_epochs, checkpoints, final_epoch, final_state, notes):
    """Accuracies at (a spread of) checkpoints and the end; losses at the end."""
    labels = task.labels()
    accuracies, computed = {}, {}
    picks = _accuracy_epochs(checkpoint_epochs)
    for index in picks:
        logits = evaluator.logits(checkpoints[index])
        accuracies[checkpoint_epochs[index]] = (_accuracy(logits, labels, train_rows), _accuracy(logits, labels, test_rows))
    logits = evaluator.logits(final_state)
    accuracies[final_epoch] = (_accuracy(logits, labels, train_rows), _accuracy(logits, labels, test_rows))
    computed[final_epoch] = (_loss(logits, labels, train_rows), _loss(logits, labels, test_rows))
    if len(picks) < len(checkpoints):
        notes.append(f"accuracies computed at {len(picks)} of {len(checkpoints)} checkpoints and the final weights")
    return accuracies, computed
