"""The last position with plain indexing, so ``torch.func.vmap`` can map it over a stack of models.

The same tables (:func:`~grokviz.core.lastpos.tables.table_parts`) and the same MLP read-out
(:func:`~grokviz.core.lastpos.forward.mlp_logits`) as the other variants; only the mix of table
rows is a gather and an ``einsum`` instead of an ``embedding_bag`` (which has no batching rule)
and the softmax is out of place (autograd runs through it). Used by the batched ensemble:

    params, buffers = stack_models(models)                # {state-dict key: [E, ...]}
    logits = ensemble_logits(params, buffers, a, b)       # [E, N, p]
"""

from __future__ import annotations

import torch
from torch.func import stack_module_state, vmap

from grokviz.core.lastpos.forward import mlp_logits
from grokviz.core.lastpos.tables import TableParts, table_parts
from grokviz.core.weights import Weights


def gathered_pattern(parts: TableParts, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """[N, 3, heads]: the attention pattern at ``=`` over the keys (a, b, =) per input."""
    p = (parts.scores.shape[0] - 1) // 2
    scores = parts.scores
    keyed = torch.stack([scores[a], scores[p + b], scores[2 * p].expand(a.shape[0], -1)], dim=1)
    return torch.softmax(keyed, dim=1)


def gathered_resid_mid(parts: TableParts, pattern: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """[N, d_model]: const + Σ_(key, head) pattern·VO[row of (key, head)] (tables.py's formula)."""
    rows, heads = parts.scores.shape
    p = (rows - 1) // 2
    table = parts.table.view(rows, heads, -1)  # [2p+1, heads, d_model]
    return (parts.const
            + torch.einsum("nh,nhd->nd", pattern[:, 0], table[a])
            + torch.einsum("nh,nhd->nd", pattern[:, 1], table[p + b])
            + pattern[:, 2] @ table[2 * p])


def gathered_logits(weights, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """One model's ``=``-position logits [N, p] from its weights (a state dict or :class:`Weights`)."""
    w = Weights.of(weights, detach=False)
    parts = table_parts(w)
    return mlp_logits(w, gathered_resid_mid(parts, gathered_pattern(parts, a, b), a, b))


def stack_models(models) -> tuple[dict, dict]:
    """(params, buffers) with a leading ensemble axis; parameters stay leaf tensors."""
    return stack_module_state(list(models))


def ensemble_logits(params: dict, buffers: dict, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Logits [E, N, p] of E stacked models; ``a``/``b`` are [N] (shared) or [E, N] (per model)."""
    in_dims_inputs = 0 if a.dim() == 2 else None
    return vmap(gathered_logits, in_dims=(0, in_dims_inputs, in_dims_inputs))({**params, **buffers}, a, b)
