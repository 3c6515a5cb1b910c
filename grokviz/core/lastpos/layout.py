"""A fixed set of inputs (a, b) prepared for the last-position computations (design.md §2).

Built once per set of inputs (the training split, a chunk of the test split, the full grid) and
reused every step: the inputs grouped by a and by b (for :class:`~grokviz.core.lastpos.forward.AttentionMix`'s
backward) and the table rows each input mixes (the ``embedding_bag`` index).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


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
