"""The attention half of the last position as small tables over the vocabulary (design.md §2).

In a 1-layer model the query at position 2 is the same for every input (token ``=``), and the
keys and values at positions 0 and 1 depend on one token each. So the attention scores and the
value→output vectors are small tables over the vocabulary:

    VO_j[t, h] = ((W_E[t] + W_pos[j])·W_V[h] + b_V[h])·W_O[h]          (j = position 0, 1, 2)
    resid_mid(a, b) = W_E[=] + W_pos[2] + b_O
                      + Σ_h pattern[h, 0]·VO_0[a, h] + pattern[h, 1]·VO_1[b, h] + pattern[h, 2]·VO_2[=, h]

:func:`table_parts` is the one implementation of these tables: every variant of the family
(autograd, hand-written, grid read-out, vmap ensemble) starts from it. :func:`pattern_weights`
and :func:`mix_rows` are the per-input mix of table rows as one softmax over 3 keys and one
``embedding_bag``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from grokviz.core.lastpos.layout import InputLayout
from grokviz.core.weights import Weights


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


def pattern_weights(score_a, score_b, score_eq, layout: InputLayout) -> torch.Tensor:
    """[N, 3, heads]: the attention pattern at ``=`` over the key positions (a, b, =) per input."""
    heads = score_a.shape[1]
    scores = torch.stack([score_a[layout.a], score_b[layout.b], score_eq.expand(len(layout), heads)], dim=1)
    weights = scores.sub_(scores.amax(1, keepdim=True)).exp_()
    return weights.div_(weights.sum(1, keepdim=True))


def mix_rows(table: torch.Tensor, weights: torch.Tensor, layout: InputLayout, rows: slice | None = None) -> torch.Tensor:
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
