"""The last-position fast path (design.md §2): the model's logits at the ``=`` position only.

In a 1-layer model the query at position 2 is the same for every input (token ``=``), and the
keys and values at positions 0 and 1 depend on one token each. So the attention scores and the
value→output vectors are small tables over the vocabulary:

    VO_j[t, h] = ((W_E[t] + W_pos[j])·W_V[h] + b_V[h])·W_O[h]          (j = position 0, 1, 2)
    resid_mid(a, b) = W_E[=] + W_pos[2] + b_O
                      + Σ_h pattern[h, 0]·VO_0[a, h] + pattern[h, 1]·VO_1[b, h] + pattern[h, 2]·VO_2[=, h]

and the MLP and unembedding run at one position instead of three. The per-input mixing of
table rows is one ``embedding_bag`` forward (:class:`AttentionMix`) with a hand-written
backward over inputs grouped by a (and by b) — a layout computed once per fixed set of inputs
(:class:`InputLayout`). The result is mathematically the hooked forward at the last position
(tested to 1e-5 on logits and 1e-4 on gradients, and by ``gradcheck`` in float64).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import torch

from grokviz.core.weights import Weights


@dataclass(frozen=True)
class _Groups:
    """Inputs grouped by one token: input n sits at row ``slots[n]`` of a [p, width] grid."""

    slots: torch.Tensor
    width: int

    @classmethod
    def by(cls, keys: torch.Tensor, p: int) -> "_Groups":
        order = torch.argsort(keys, stable=True)
        counts = torch.bincount(keys, minlength=p)
        starts = torch.cumsum(counts, 0) - counts
        rank = torch.empty_like(keys)
        rank[order] = torch.arange(len(keys), device=keys.device) - starts[keys[order]]
        width = max(int(counts.max()), 1) if len(keys) else 1
        return cls(keys * width + rank, width)

    def grid(self, rows: torch.Tensor, p: int) -> torch.Tensor:
        """[N, k] rows scattered to a zero-padded [p, width, k] grid (group = token)."""
        out = rows.new_zeros(p * self.width, rows.shape[1])
        return out.index_copy_(0, self.slots, rows).view(p, self.width, -1)

    def rows(self, grid: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`grid`: the N rows of a [p, width, k] grid."""
        return grid.reshape(-1, grid.shape[-1]).index_select(0, self.slots)


@dataclass(frozen=True)
class InputLayout:
    """A fixed set of inputs (a, b) prepared for :func:`last_position_logits`."""

    a: torch.Tensor
    b: torch.Tensor
    by_a: _Groups
    by_b: _Groups
    _bags: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(cls, a: torch.Tensor, b: torch.Tensor, p: int) -> "InputLayout":
        a, b = a.long(), b.long()
        return cls(a, b, _Groups.by(a, p), _Groups.by(b, p))

    @classmethod
    def from_rows(cls, rows: torch.Tensor, p: int) -> "InputLayout":
        """Inputs given as row indices ``a·p + b``."""
        return cls.build(torch.div(rows, p, rounding_mode="floor"), rows % p, p)

    def __len__(self) -> int:
        return len(self.a)

    def bag_index(self, p: int, heads: int) -> torch.Tensor:
        """[N, 3·heads] rows of the stacked value→output table each input mixes (a-, b-, =-rows)."""
        index = self._bags.get((p, heads))
        if index is None:
            h = torch.arange(heads, device=self.a.device)
            index = torch.cat([self.a[:, None] * heads + h, (p + self.b[:, None]) * heads + h,
                               (2 * p * heads + h).expand(len(self), heads)], dim=1).contiguous()
            self._bags[(p, heads)] = index
        return index


def pattern_weights(score_a, score_b, score_eq, layout: "InputLayout") -> torch.Tensor:
    """[N, 3, heads]: the attention pattern at ``=`` over the key positions (a, b, =) per input."""
    heads = score_a.shape[1]
    scores = torch.stack([score_a[layout.a], score_b[layout.b], score_eq.expand(len(layout), heads)], dim=1)
    weights = scores.sub_(scores.amax(1, keepdim=True)).exp_()
    return weights.div_(weights.sum(1, keepdim=True))


def mix_rows(table: torch.Tensor, weights: torch.Tensor, layout: "InputLayout", rows: slice | None = None) -> torch.Tensor:
    """Σ_(key, head) weights·table[row of (key, head)] per input: [N, width] (one ``embedding_bag``).

    ``table`` rows are indexed as in :class:`AttentionMix` (VO_0[t, h], VO_1[t, h], VO_2[=, h]) and
    may be any linear read-out of them (e.g. pushed through W_in); ``rows`` picks a block of inputs.
    """
    heads = weights.shape[-1]
    p = (table.shape[0] // heads - 1) // 2
    index = layout.bag_index(p, heads)
    if rows is not None:
        index, weights = index[rows], weights[rows]
    return torch.nn.functional.embedding_bag(index, table, per_sample_weights=weights.reshape(len(index), -1),
                                             mode="sum")


class AttentionMix(torch.autograd.Function):
    """``resid_mid`` at ``=`` from the score and value→output tables, with a hand-written backward.

    Inputs: ``score_a``/``score_b`` [p, heads] (key score of token t at position 0 / 1),
    ``score_eq`` [heads], ``table`` [(2p+1)·heads, d_model] (rows VO_0[t, h], VO_1[t, h],
    VO_2[=, h]), ``const`` [d_model]. The forward is one softmax over 3 keys and one
    ``embedding_bag``; the backward uses the by-a / by-b grids (batched matmuls over
    groups), which is ~4× faster than autograd through the same ops (measured).
    """

    @staticmethod
    def forward(ctx, score_a, score_b, score_eq, table, const, layout: "InputLayout"):
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


@dataclass(frozen=True)
class TableParts:
    """The attention tables with the intermediates a hand-written backward needs.

    Rows of ``resid`` / ``scores`` / ``values``: tokens at position 0 (a), tokens at position 1
    (b), then ``=`` at position 2. ``scores`` [2p+1, heads]: key score of each row for the ``=``
    query; ``table`` [(2p+1)·heads, d_model]: rows VO[row, head] (module docstring);
    const = W_E[=] + W_pos[2] + b_O.
    """

    resid: torch.Tensor  # [2p+1, d_model]
    query: torch.Tensor  # [heads, d_head]
    key_direction: torch.Tensor  # [d_model, heads]: scores = resid·key_direction + offset
    values: torch.Tensor  # [2p+1, heads, d_head] = resid·value_weights + b_V
    value_weights: torch.Tensor  # W_V as [d_model, heads·d_head]
    scores: torch.Tensor
    table: torch.Tensor
    const: torch.Tensor


@functools.lru_cache(maxsize=8)
def table_rows(p: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(token [2p+1], position [2p+1]) of the rows of :class:`TableParts`: a at 0, b at 1, ``=`` at 2."""
    with torch.inference_mode(False):  # cached: must stay usable by autograd after a first call in inference mode
        tokens = torch.cat([torch.arange(p), torch.arange(p), torch.tensor([p])]).to(device)
        positions = torch.tensor([0] * p + [1] * p + [2]).to(device)
    return tokens, positions


def table_parts(w: Weights) -> TableParts:
    """:class:`TableParts` of the weights (differentiable: autograd may run through it)."""
    p, scale = w.p, w.attn_scale
    heads, d_model, d_head = w.W_V.shape
    tokens, positions = table_rows(p, w.W_E.device)
    resid = w.W_E.index_select(0, tokens) + w.W_pos.index_select(0, positions)
    resid_eq = resid[2 * p]  # position 2 always holds '='
    query = torch.matmul(resid_eq, w.W_Q) + w.b_Q  # [heads, d_head]
    key_direction = torch.matmul(w.W_K, query[:, :, None])[:, :, 0].T / scale  # [d_model, heads]
    key_offset = (w.b_K * query).sum(-1) / scale
    scores = torch.addmm(key_offset, resid, key_direction)
    value_weights = w.W_V.permute(1, 0, 2).reshape(d_model, heads * d_head)
    values = (resid @ value_weights).view(-1, heads, d_head) + w.b_V
    table = torch.bmm(values.transpose(0, 1), w.W_O).transpose(0, 1).reshape(-1, d_model)
    return TableParts(resid, query, key_direction, values, value_weights, scores, table, resid_eq + w.b_O)


def attention_tables(w: Weights):
    """(score_a [p, heads], score_b, score_eq [heads], table [(2p+1)·heads, d_model], const [d_model]).

    score_j[t, h]: key score of token t at position j for the ``=`` query; table and const as in
    :class:`TableParts`.
    """
    parts, p = table_parts(w), w.p
    return parts.scores[:p], parts.scores[p : 2 * p], parts.scores[2 * p], parts.table, parts.const


def last_position_logits(source, layout: InputLayout) -> torch.Tensor:
    """Logits at the ``=`` position for the layout's inputs: [N, p], equal to ``model(tokens)[:, -1]``.

    ``source``: a GrokTransformer, a state dict or :class:`Weights` (gradients flow to a
    model's parameters; the trainer builds its Weights once). Biases ride in fused ``addmm``
    calls; ``b_out`` is folded into the unembedding's bias (``(x + b_out)·W_U = x·W_U + b_out·W_U``).
    """
    w = Weights.of(source, detach=False)
    resid_mid = AttentionMix.apply(*attention_tables(w), layout)
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
