"""Linear read-outs of the last position over all p² inputs, straight from the tables (design.md §2).

``resid_mid`` at ``=`` is a per-input mix of value→output table rows
(:mod:`grokviz.core.lastpos.tables`), so the analysis reads ``pre``, the direct logits and the
pattern for the whole [a, b] grid out of the tables (:class:`GridReadout`) instead of running
the model. :func:`grokviz.analysis.lastpos.last_position_grid` shapes its outputs as grids.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

from grokviz.core.lastpos.layout import InputLayout
from grokviz.core.lastpos.tables import attention_tables, mix_rows, pattern_weights
from grokviz.core.weights import Weights


@lru_cache(maxsize=4)
def full_layout(p: int) -> InputLayout:
    """All p² inputs in row order a·p + b."""
    return InputLayout.from_rows(torch.arange(p * p), p)


@dataclass(frozen=True)
class GridReadout:
    """Linear read-outs of ``resid_mid`` at ``=`` over all p² inputs, straight from the tables.

    ``resid_mid`` is a per-input mix of value→output table rows, so any linear read-out of it
    is the same mix of the table pushed through that read-out: ``pre`` = mix(VO·W_in) and the
    direct logits = mix(VO·W_U), one ``embedding_bag`` each instead of [p², d_model] matmuls
    (~3× cheaper, measured). Constants fold into the tables: each head's pattern over the three
    keys sums to 1, so every input's mix carries Σ weights = heads.
    """

    layout: InputLayout
    weights: torch.Tensor  # [p², 3, heads]: the pattern at '=' per input
    table: torch.Tensor  # [(2p+1)·heads, d_model]: VO rows
    const: torch.Tensor  # [d_model]
    table_in: torch.Tensor  # [(2p+1)·heads, d_mlp]: VO·W_in + (const·W_in + b_in)/heads
    table_direct: torch.Tensor  # [(2p+1)·heads, p]: VO·W_U + (const·W_U + b_U + b_out·W_U)/heads

    @classmethod
    def of(cls, w: Weights) -> "GridReadout":
        score_a, score_b, score_eq, table, const = attention_tables(w)
        layout = full_layout(w.p)
        weights = pattern_weights(score_a, score_b, score_eq, layout)
        heads = weights.shape[-1]
        table_in = torch.addmm((const @ w.W_in + w.b_in) / heads, table, w.W_in)
        table_direct = torch.addmm((const @ w.W_U + w.direct_bias) / heads, table, w.W_U)
        return cls(layout, weights, table, const, table_in, table_direct)

    def pattern(self) -> torch.Tensor:
        """[a, b, head, key_pos]."""
        p = len(self.table_direct[0])
        return self.weights.view(p, p, 3, -1).permute(0, 1, 3, 2)

    def resid_mid(self) -> torch.Tensor:
        return mix_rows(self.table, self.weights, self.layout).add_(self.const)

    def pre(self, rows: slice | None = None) -> torch.Tensor:
        """``pre`` of all inputs, or of a block of them."""
        return mix_rows(self.table_in, self.weights, self.layout, rows)

    def direct_logits(self) -> torch.Tensor:
        """resid_mid·W_U + b_U + b_out·W_U: the logits without the neurons."""
        return mix_rows(self.table_direct, self.weights, self.layout)
