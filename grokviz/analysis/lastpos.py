"""Last-position (``=``) activations for the full p×p input grid, from small tables (design.md §2).

In a 1-layer model the query at position 2 is the same for every input, so the attention
pattern there depends on (a, b) only through two score tables, and ``resid_mid`` is a
per-input mix of value→output table rows (:mod:`grokviz.core.fastpath`); the MLP and the
unembedding then run at that one position. The functions take a model or a bare state dict
(:class:`grokviz.core.weights.Weights`), so the progress measures never build a module per
checkpoint. Mathematically the hooked forward at the last position (tested against
``run_with_cache``).
"""

from __future__ import annotations

from functools import lru_cache

import torch

from grokviz.core.fastpath import InputLayout, AttentionMix, attention_tables
from grokviz.core.weights import Weights

GRID_OUTPUTS = ("pattern", "resid_mid", "pre", "post", "direct_logits", "logits")


def _pattern(score_a: torch.Tensor, score_b: torch.Tensor, score_eq: torch.Tensor) -> torch.Tensor:
    """Softmax over the 3 key positions for every (a, b): [a, b, head, key_pos]."""
    p, heads = score_a.shape
    scores = torch.stack([score_a[:, None, :].expand(p, p, heads), score_b[None, :, :].expand(p, p, heads),
                          score_eq.expand(p, p, heads)])  # [key_pos, a, b, head]: long inner runs
    weights = scores.sub_(scores.amax(0, keepdim=True)).exp_()
    weights.div_(weights.sum(0, keepdim=True))
    return weights.permute(1, 2, 3, 0)


@lru_cache(maxsize=4)
def full_layout(p: int) -> InputLayout:
    """All p² inputs in row order a·p + b."""
    return InputLayout.from_rows(torch.arange(p * p), p)


def augmented_resid_mid(w: Weights, tables=None) -> torch.Tensor:
    """[p², d_model + 1]: ``resid_mid`` at ``=`` over all inputs with a trailing column of ones.

    The ones column comes out of the same ``embedding_bag`` (a zero table column, 1 in the
    constant), so biases fold into the matmuls that read ``resid_mid``: x·[W; b] = x·W + b.
    """
    score_a, score_b, score_eq, table, const = attention_tables(w) if tables is None else tables
    return AttentionMix.apply(score_a, score_b, score_eq, torch.nn.functional.pad(table, (0, 1)),
                              torch.cat([const, const.new_ones(1)]), full_layout(w.p))


def with_bias(weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """[weight; bias]: the read-out of an augmented ``resid_mid`` (:func:`augmented_resid_mid`)."""
    return torch.cat([weight, bias[None]])


@torch.no_grad()
def last_position_grid(source, outputs=("post", "logits")) -> dict:
    """Quantities at the ``=`` position over the [a, b] grid (each ``[p, p, ...]``).

    ``source``: a model, a state dict or :class:`grokviz.core.weights.Weights`. ``outputs`` ⊂ ``pattern``
    [a,b,head,key_pos], ``resid_mid``, ``pre``, ``post`` [a,b,d_mlp], ``direct_logits``
    (resid_mid·W_U + b_U + b_out·W_U: everything but the neurons) and ``logits`` [a,b,p]
    (= ``model(tokens)[:, -1]`` reshaped). ``resid_mid`` is one ``embedding_bag`` over the
    value→output tables; biases ride in fused ``addmm`` calls.
    """
    unknown = set(outputs) - set(GRID_OUTPUTS)
    if unknown:
        raise ValueError(f"unknown outputs {sorted(unknown)}; choose from {GRID_OUTPUTS}")
    w = Weights.of(source)
    p = w.p
    tables = attention_tables(w)
    result = {}
    if "pattern" in outputs:
        result["pattern"] = _pattern(*tables[:3])
    if set(outputs) <= {"pattern"}:
        return result
    resid = augmented_resid_mid(w, tables)  # [p², d_model + 1]
    result["resid_mid"] = resid[:, :-1].reshape(p, p, -1)
    if {"pre", "post", "logits"} & set(outputs):
        pre = resid @ with_bias(w.W_in, w.b_in)
        if "pre" in outputs:
            result["pre"] = (pre.clone() if {"post", "logits"} & set(outputs) else pre).view(p, p, -1)
        result["post"] = torch.relu_(pre).view(p, p, -1)
    if {"direct_logits", "logits"} & set(outputs):
        direct = resid @ with_bias(w.W_U, w.b_U + w.b_out @ w.W_U)
        if "direct_logits" in outputs:
            result["direct_logits"] = (direct.clone() if "logits" in outputs else direct).view(p, p, -1)
        if "logits" in outputs:
            result["logits"] = direct.addmm_(result["post"].view(p * p, -1), w.w_logit).view(p, p, -1)
    return {k: v for k, v in result.items() if k in outputs}
