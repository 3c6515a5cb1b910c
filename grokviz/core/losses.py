"""The training losses (design.md §4, §6b): the notebooks' cross-entropy and Prieto et al.'s StableMax.

StableMax (Prieto et al. 2025, arXiv 2501.04697) replaces exp in the softmax with

    s(x) = x + 1        for x ≥ 0
    s(x) = 1 / (1 − x)  for x < 0,

so the probabilities are s(z_i) / Σ_j s(z_j) and the loss is −log of the label's, computed in float64
like the cross-entropy. s grows linearly, so a confident prediction does not round the other
classes' shares to exactly 0 in float32 (softmax collapse, whose gradient is exactly zero). Unlike
the softmax it is not shift-invariant: the logits enter as they are (no max subtraction).

Its gradient, for one row with S = Σ_j s(z_j) and label y:
    ∂loss/∂z_j = s'(z_j)/S − [j = y]·s'(z_y)/s(z_y),  s'(x) = 1 for x ≥ 0, s(x)² for x < 0.
The hand-written CPU step uses that formula (:func:`stablemax_rows`); the autograd and ensemble
engines differentiate :func:`stablemax_log_probs` (tested equal).
"""

from __future__ import annotations

import torch

from grokviz.core.config import LOSSES, check_choice


def stablemax_s(x: torch.Tensor) -> torch.Tensor:
    """s(x): x + 1 for x ≥ 0, 1/(1 − x) for x < 0 (each branch clamped so neither side's gradient is inf)."""
    return torch.where(x >= 0, x.clamp_min(0) + 1, 1 / (1 - x.clamp_max(0)))


def stablemax_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """StableMax probabilities s(z_i)/Σ_j s(z_j) over the last axis, in the logits' own dtype."""
    values = stablemax_s(logits)
    return values / values.sum(-1, keepdim=True)


def stablemax_log_probs(logits: torch.Tensor) -> torch.Tensor:
    """log StableMax probabilities in float64 (differentiable)."""
    values = stablemax_s(logits.to(torch.float64))
    return values.log() - values.sum(-1, keepdim=True).log()


def stablemax_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean −log StableMax probability of the label, in float64 (over the last axis; labels [..., N])."""
    return -stablemax_log_probs(logits).gather(-1, labels[..., None]).squeeze(-1).mean(-1)


def stablemax_rows(logits: torch.Tensor, labels_column: torch.Tensor, with_grad: bool = True):
    """(per-row loss [n, 1] float64, d rowloss / d logits [n, p] float64 or None) for [n, p] logits.

    The gradient is the module docstring's formula, per row (not divided by n)."""
    z = logits.to(torch.float64)
    negative = z < 0
    values = stablemax_s(z)
    total = values.sum(1, keepdim=True)
    picked = values.gather(1, labels_column)
    row_loss = total.log() - picked.log()
    if not with_grad:
        return row_loss, None
    slopes = torch.where(negative, values.square(), torch.ones_like(values))
    grad = slopes / total
    grad.scatter_add_(1, labels_column, -slopes.gather(1, labels_column) / picked)
    return row_loss, grad


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
    """The notebooks' loss: mean −log softmax in float64 at the label ([N, p] logits)."""
    return _Float64CrossEntropy.apply(logits, labels)


def check_loss(name) -> str:
    return check_choice("loss", name, LOSSES)


def loss_function(name: str):
    """``(logits [N, p], labels [N]) -> mean float64 loss`` (differentiable) for a loss in :data:`LOSSES`."""
    return stablemax_cross_entropy if check_loss(name) == "stablemax" else cross_entropy_float64


def stacked_losses(name: str, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-model mean float64 losses [E] of stacked logits [E, N, p] and labels [E, N] (the ensemble's)."""
    if check_loss(name) == "stablemax":
        return stablemax_cross_entropy(logits, labels)
    log_probs = logits.to(torch.float64).log_softmax(-1)
    return -log_probs.gather(-1, labels[..., None]).squeeze(-1).mean(-1)
