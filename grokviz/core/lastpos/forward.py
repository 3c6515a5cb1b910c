"""The last position's logits with autograd: the training step on CUDA, and evaluation.

:class:`AttentionMix` mixes the table rows of :mod:`grokviz.core.lastpos.tables` with a
hand-written backward over inputs grouped by a (and by b); the MLP and unembedding then run at
one position instead of three. The result is mathematically the hooked forward at the last
position (tested to 1e-5 on logits and 1e-4 on gradients, and by ``gradcheck`` in float64).
"""

from __future__ import annotations

import torch

from grokviz.core.lastpos.layout import InputLayout
from grokviz.core.lastpos.tables import attention_tables, mix_rows, pattern_weights
from grokviz.core.weights import Weights


class AttentionMix(torch.autograd.Function):
    """``resid_mid`` at ``=`` from the score and value→output tables, with a hand-written backward.

    Inputs: ``score_a``/``score_b`` [p, heads] (key score of token t at position 0 / 1),
    ``score_eq`` [heads], ``table`` [(2p+1)·heads, d_model] (rows VO_0[t, h], VO_1[t, h],
    VO_2[=, h]), ``const`` [d_model]. The forward is one softmax over 3 keys and one
    ``embedding_bag``; the backward uses the by-a / by-b grids (batched matmuls over
    groups), which is ~4× faster than autograd through the same ops (measured).
    """

    @staticmethod
    def forward(ctx, score_a, score_b, score_eq, table, const, layout: InputLayout):
        weights = pattern_weights(score_a, score_b, score_eq, layout)
        ctx.save_for_backward(weights, table)
        ctx.layout = layout
        return mix_rows(table, weights, layout).add_(const)

    @staticmethod
    def backward(ctx, grad):
        weights, table = ctx.saved_tensors
        layout = ctx.layout
        n, _, heads = weights.shape
        p = (table.shape[0] // heads - 1) // 2
        grad = grad.contiguous()
        grad_table = torch.empty_like(table)
        grad_weights = torch.empty_like(weights)
        for j, groups in enumerate((layout.by_a, layout.by_b)):
            values = table[j * p * heads:(j + 1) * p * heads].view(p, heads, -1)
            grad_grid = groups.grid(grad, p)  # [p, width, d_model]
            weight_grid = groups.grid(weights[:, j], p)  # [p, width, heads]
            grad_table[j * p * heads:(j + 1) * p * heads] = torch.bmm(weight_grid.transpose(1, 2), grad_grid).view(p * heads, -1)
            grad_weights[:, j] = groups.rows(torch.bmm(grad_grid, values.transpose(1, 2)))
        values_eq = table[2 * p * heads:]
        grad_table[2 * p * heads:] = weights[:, 2].T @ grad
        grad_weights[:, 2] = grad @ values_eq.T
        grad_scores = weights * (grad_weights - (weights * grad_weights).sum(1, keepdim=True))  # softmax backward
        grad_a = grad_scores.new_zeros(p, heads).index_add_(0, layout.a, grad_scores[:, 0])
        grad_b = grad_scores.new_zeros(p, heads).index_add_(0, layout.b, grad_scores[:, 1])
        return grad_a, grad_b, grad_scores[:, 2].sum(0), grad_table, grad.sum(0), None


def last_position_logits(source, layout: InputLayout) -> torch.Tensor:
    """Logits at the ``=`` position for the layout's inputs: [N, p], equal to ``model(tokens)[:, -1]``.

    ``source``: a GrokTransformer, a state dict or :class:`Weights` (gradients flow to a
    model's parameters; the trainer builds its Weights once). Biases ride in fused ``addmm`` calls.
    """
    w = Weights.of(source, detach=False)
    return mlp_logits(w, AttentionMix.apply(*attention_tables(w), layout))


def mlp_logits(w: Weights, resid_mid: torch.Tensor) -> torch.Tensor:
    """The MLP and unembedding at one position: [N, d_model] ``resid_mid`` → [N, p] logits.

    ``b_out`` is folded into the unembedding's bias (``(x + b_out)·W_U = x·W_U + b_out·W_U``).
    """
    post = torch.relu_(torch.addmm(w.b_in, resid_mid, w.W_in))
    resid_post = torch.addmm(resid_mid, post, w.W_out)
    return torch.addmm(w.direct_bias, resid_post, w.W_U)


def fast_path_flops(cfg, n_inputs: int) -> int:
    """FLOPs (2 per multiply-add) of one forward + backward of :func:`last_position_logits`.

    Backward costs about twice the forward (gradients for inputs and weights).
    """
    p, h, d, dh, m = cfg.p, cfg.n_heads, cfg.d_model, cfg.d_head, cfg.d_mlp
    tables = 3 * p * h * (d * dh + dh * d) + 2 * p * d * h
    per_input = 3 * h * d + d * m + m * d + d * p
    return 2 * 3 * (tables + n_inputs * per_input)


def full_forward_flops(cfg, n_inputs: int, positions: int = 3) -> int:
    """FLOPs (2 per multiply-add) of one hooked forward over ``positions`` tokens per input."""
    d, h, dh, m, p = cfg.d_model, cfg.n_heads, cfg.d_head, cfg.d_mlp, cfg.p
    per_position = 4 * d * h * dh + 2 * d * m + d * p
    return 2 * n_inputs * positions * per_position
