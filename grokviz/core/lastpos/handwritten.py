"""Hand-written gradients of the fast path's attention half (design.md §2), for the CPU trainer.

The trainer's step (:mod:`grokviz.core.lastpos.step`) runs without autograd. This module gives it
the two pieces in front of the MLP, each as a forward that keeps what its backward needs:

- :class:`AttentionTables` — the tables of :func:`grokviz.core.lastpos.tables.table_parts` (key
  scores and value→output rows) and their backward to the weights;
- :class:`SparseMix` — from the tables to ``resid_mid`` at ``=``: each input mixes 3·heads table
  rows with its attention weights, i.e. ``resid_mid = M·table`` for a sparse [N, rows]
  matrix M with 3·heads entries per row. The backward is M's transpose times the gradient
  (one ``embedding_bag`` per table row over the inputs that mix it, the ``=`` rows as a dense
  product) and M's entries' gradients, the gradient sampled at M's pattern
  (``sampled_addmm``), then the 3-key softmax backward. The step also uses M on other tables
  (``table·W_in``) and Mᵀ on other gradients (the MLP's).

Both are tested against autograd through the same functions.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property

import torch

from grokviz.core.lastpos.layout import InputLayout
from grokviz.core.lastpos.tables import TableParts, table_parts, table_rows
from grokviz.core.weights import Weights


@dataclass
class AttentionTables:
    """:class:`~grokviz.core.lastpos.tables.TableParts` of the weights ``w``, with the constant folded in.

    ``table`` rows are VO[row, head] + const / heads, where const = W_E[=] + W_pos[2] + b_O.
    Each head's attention weights sum to 1, so mixing these rows adds const exactly once, and
    the score gradients do not change (softmax is shift-invariant).
    """

    w: Weights
    parts: TableParts
    table: torch.Tensor

    @classmethod
    def of(cls, w: Weights) -> "AttentionTables":
        parts = table_parts(w)
        return cls(w, parts, parts.table + parts.const / w.W_V.shape[0])

    @property
    def scores(self) -> torch.Tensor:
        return self.parts.scores

    @cached_property
    def mlp_in(self) -> torch.Tensor:
        """table·W_in [rows, d_mlp]: M·(table·W_in) = resid_mid·W_in, the MLP's pre-activations
        (before b_in) as a gather of 3·heads rows per input instead of a d_model-deep product
        (measured at p = 113: 3.0 → 2.2 ms on the training inputs, 6.6 → 3.8 ms on the test inputs)."""
        return torch.mm(self.table, self.w.W_in)

    def transposed_times(self, grad: torch.Tensor) -> torch.Tensor:
        """tableᵀ·grad [d_model, k] for ``grad`` [rows, k], through d_head: row (r, h) of the table
        is values[r, h]·W_O[h] + const/heads, so this is Σ_h W_O[h]ᵀ·(values[:, h]ᵀ·grad[:, h])
        plus const ⊗ Σ grad / heads (0.52 → 0.40 ms for W_in's gradient at p = 113, measured)."""
        heads, d_head, d_model = self.w.W_O.shape
        k = grad.shape[1]
        product = torch.mm(self.w.W_O.reshape(heads * d_head, d_model).T, self._values_t(grad).view(heads * d_head, k))
        return product.addr_(self.parts.const, grad.sum(0), alpha=1.0 / heads)

    def _values_t(self, grad: torch.Tensor) -> torch.Tensor:
        """[heads, d_head, k]: values[:, h]ᵀ·grad[:, h] per head, for ``grad`` [rows, k] in table-row order."""
        heads = self.w.W_O.shape[0]
        return torch.bmm(self.parts.values.permute(1, 2, 0), grad.view(-1, heads, grad.shape[1]).transpose(0, 1))

    def backward(self, grad_scores: torch.Tensor, grad_table: torch.Tensor) -> dict:
        """Gradients of the trainable weights (W_E, W_pos, W_Q, W_K, W_V, W_O) by short name."""
        w, parts = self.w, self.parts
        p, scale = w.p, w.attn_scale
        heads, d_model, d_head = w.W_V.shape
        rows = parts.resid.shape[0]
        grad_const = grad_table.sum(0).div_(heads)
        grad_vo = grad_table.view(rows, heads, d_model).transpose(0, 1)  # [heads, rows, d_model]
        grad_W_O = self._values_t(grad_table)  # table row (r, h) = values[r, h]·W_O[h] + const/heads
        grad_values = torch.bmm(grad_vo, w.W_O.transpose(1, 2)).transpose(0, 1).reshape(rows, heads * d_head)
        grad_W_V = (parts.resid.T @ grad_values).view(d_model, heads, d_head).transpose(0, 1)
        grad_resid = grad_values @ parts.value_weights.T
        grad_resid.addmm_(grad_scores, parts.key_direction.T)  # scores = resid·key_direction + offset
        grad_key_direction = parts.resid.T @ grad_scores  # [d_model, heads]
        grad_offset = grad_scores.sum(0)  # [heads]
        # key_direction[:, h] = W_K[h]·query[h] / scale;  offset[h] = b_K[h]·query[h] / scale
        grad_W_K = (grad_key_direction.T[:, :, None] * parts.query[:, None, :]).div_(scale)
        grad_query = torch.matmul(grad_key_direction.T[:, None, :], w.W_K)[:, 0].add_(w.b_K * grad_offset[:, None])
        grad_query.div_(scale)
        resid_eq = parts.resid[2 * p]
        grad_W_Q = resid_eq[None, :, None] * grad_query[:, None, :]  # query = resid_eq·W_Q + b_Q
        grad_resid[2 * p].add_(grad_const).add_(torch.matmul(w.W_Q, grad_query[:, :, None]).sum((0, 2)))
        tokens, positions = table_rows(p, grad_resid.device)  # resid = W_E[token] + W_pos[position]
        grad_W_E = grad_resid.new_zeros(w.W_E.shape).index_add_(0, tokens, grad_resid)
        grad_W_pos = grad_resid.new_zeros(w.W_pos.shape).index_add_(0, positions, grad_resid)
        return {"W_E": grad_W_E, "W_pos": grad_W_pos, "W_Q": grad_W_Q, "W_K": grad_W_K,
                "W_V": grad_W_V, "W_O": grad_W_O}


class SparseMix:
    """``resid_mid = M·table`` for one fixed set of inputs (module docstring).

    M's pattern (which table rows each input mixes) is fixed by the layout and built once; its
    entries are the attention weights of the ``=`` query over the keys a, b, ``=`` per head.
    """

    def __init__(self, layout: InputLayout, p: int, heads: int):
        self.p, self.heads, self.n = p, heads, len(layout)
        self.rows = (2 * p + 1) * heads
        self.bag = layout.bag_index(p, heads)  # [N, 3·heads] table rows, ascending in each input
        self.key_rows = torch.cat([layout.a, p + layout.b, torch.full_like(layout.a, 2 * p)])  # [3N] score rows

    @cached_property
    def _plan(self) -> _BackwardPlan:
        """Index structures of the backward, built on first use (evaluation never needs them)."""
        n, keys, heads, device = self.n, 3 * self.heads, self.heads, self.bag.device
        ab_keys = 2 * heads  # the a- and b-entries of each input; the = key's follow
        col = self.bag[:, :ab_keys].reshape(-1)
        entry = (torch.arange(n, device=device)[:, None] * keys + torch.arange(ab_keys, device=device)).reshape(-1)
        transpose_order = torch.argsort(col, stable=True)
        # bags of the = rows left empty: Mᵀ·grad adds them as a dense product
        transpose_starts = torch.cat([_row_starts(col, self.rows - heads)[:-1], torch.full((heads,), len(col), device=device)])
        # the [2p+1, 3N] 0/1 matrix summing each key's gradient (input by input) into its score
        # row (an index_add, ~20× faster)
        key_rows = self.key_rows.view(3, n).T.reshape(-1)
        key_sum = _csr(_row_starts(key_rows, 2 * self.p + 1), torch.argsort(key_rows, stable=True),
                       torch.ones(3 * n, device=device), (2 * self.p + 1, 3 * n))
        return _BackwardPlan(torch.arange(0, n * keys + 1, keys, device=device), self.bag.reshape(-1),
                             entry[transpose_order], transpose_starts,
                             torch.arange(n, device=device).repeat_interleave(ab_keys)[transpose_order], key_sum)

    def weights(self, scores: torch.Tensor) -> MixWeights:
        """Softmax over the keys (a, b, =) of the ``=`` query, per input and head."""
        keyed = scores.index_select(0, self.key_rows).view(3, self.n, self.heads)
        keyed.sub_(keyed.amax(0)).exp_()  # reductions over the leading key axis run ~6× faster
        keyed.div_(keyed.sum(0))
        entries = torch.stack(keyed.unbind(0), 1)  # input by input, as M's entries (the fastest such copy)
        return MixWeights(entries.transpose(0, 1), entries.view(-1))

    def forward(self, tables: AttentionTables) -> tuple[torch.Tensor, MixWeights]:
        """(resid_mid [N, d_model], the weights the backward needs)."""
        weights = self.weights(tables.scores)
        return self.mix(tables.table, weights), weights

    def mix(self, table: torch.Tensor, weights: MixWeights) -> torch.Tensor:
        """M·table [N, width] for any [rows, width] ``table`` (rows as the attention table's)."""
        return torch.nn.functional.embedding_bag(self.bag, table, mode="sum", per_sample_weights=weights.entries.view(self.n, -1))

    def transposed(self, weights: MixWeights, grad: torch.Tensor) -> torch.Tensor:
        """Mᵀ·grad [rows, width] for any [N, width] ``grad``.

        A bag per table row over the inputs that mix it (~3× faster than a CSR product), except
        the = rows: every input mixes them, and as bags they would leave one core all their
        work (bags are split between threads by count), so they are a dense product.
        """
        plan = self._plan
        if weights.transposed is None:
            weights.transposed = weights.entries.index_select(0, plan.transpose_entry)
        product = torch.nn.functional.embedding_bag(plan.transpose_col, grad, plan.transpose_starts, mode="sum",
                                                    per_sample_weights=weights.transposed)
        product[-self.heads :].addmm_(weights.keyed[2].T, grad)
        return product

    def backward(self, tables: AttentionTables, weights: MixWeights, grad: torch.Tensor):
        """(grad_scores [2p+1, heads], grad_table) from the gradient of resid_mid."""
        plan, heads = self._plan, self.heads
        grad_table = self.transposed(weights, grad)
        pattern = _csr(plan.crow, plan.col, weights.entries, (self.n, self.rows))
        grad_entries = torch.sparse.sampled_addmm(pattern, grad, tables.table.T, beta=0.0).values()
        # the softmax backward over the keys, all input by input: [N, 3, heads], contiguous
        grad_keyed = torch._softmax_backward_data(grad_entries.view(self.n, 3, heads),
                                                  weights.entries.view(self.n, 3, heads), 1, grad_entries.dtype)
        grad_scores = torch.sparse.mm(plan.key_sum, grad_keyed.view(-1, heads))
        return grad_scores, grad_table


@dataclass
class MixWeights:
    """The attention weights: ``keyed`` [3, N, heads], a view of ``entries`` [N·3·heads] (M's
    entries, input by input); ``transposed``: the a- and b-entries in Mᵀ's order, once needed."""

    keyed: torch.Tensor
    entries: torch.Tensor
    transposed: torch.Tensor | None = None


@dataclass(frozen=True)
class _BackwardPlan:
    """M as CSR (crow, col); its transpose over the a- and b-rows as bags: places in ``entries``
    (``transpose_entry``), bag starts (``transpose_starts``, the = rows' bags empty), input of
    each entry (``transpose_col``); and key_sum."""

    crow: torch.Tensor
    col: torch.Tensor
    transpose_entry: torch.Tensor
    transpose_starts: torch.Tensor
    transpose_col: torch.Tensor
    key_sum: torch.Tensor


def _row_starts(row_of_entry: torch.Tensor, rows: int) -> torch.Tensor:
    """CSR row pointers [rows + 1] for entries sorted by their row."""
    counts = torch.bincount(row_of_entry, minlength=rows)
    return torch.cat([counts.new_zeros(1), counts.cumsum(0)])


def _csr(crow, col, values, size):
    """A CSR matrix from trusted indices (no validation; torch warns that CSR is in beta)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, col, values, size, check_invariants=False)
