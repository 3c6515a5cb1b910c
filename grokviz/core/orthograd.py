"""⊥Grad (Prieto et al. 2025, arXiv 2501.04697; design.md §6b): the gradient without its component
along the weights, g ← g − (g·θ / θ·θ) θ per weight tensor, before the AdamW step.

After memorisation the cross-entropy keeps falling by scaling the logits up (the "naïve loss
minimisation" direction, which is θ itself for a homogeneous model); removing it forces the
update to change what the model computes. The optimiser name ``orthoadamw`` is this projection
followed by the recipe's unchanged AdamW (weight decay included). The dot products are taken in
float64. (The authors' reference code additionally rescales the projected gradient to the original
gradient's norm; we follow the paper's definition, which AdamW's per-coordinate normalisation
makes nearly indifferent to that rescaling.)
"""

from __future__ import annotations

import torch


@torch.no_grad()
def project_gradients(tensors, stacked: bool = False) -> None:
    """Replace each tensor's ``.grad`` by its component orthogonal to the tensor, in place.

    ``stacked``: the tensors are [E, ...] stacks of E models (the ensemble engine), projected per
    model. A tensor that is all zeros has no direction to remove and keeps its gradient."""
    for tensor in tensors:
        grad = tensor.grad
        if grad is None:
            continue
        models = tensor.shape[0] if stacked else 1
        weights, flat = tensor.reshape(models, -1).double(), grad.reshape(models, -1)
        along = (weights * flat.double()).sum(1)
        norm = weights.square().sum(1)
        coefficient = torch.where(norm > 0, along / norm.clamp_min(torch.finfo(torch.float64).tiny), 0.0)
        flat.sub_((weights * coefficient[:, None]).to(grad.dtype))  # flat is a view of grad (contiguous grads)
        if flat.data_ptr() != grad.data_ptr():
            grad.copy_(flat.view_as(grad))
