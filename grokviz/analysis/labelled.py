"""Labelled tensors: data plus axis names and tick labels, so every view can label every axis."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

# Axis kinds: "token" axes (a, b, c) hold residues mod p; "frequency" axes hold Fourier
# components or frequencies; "index" is anything else (head, neuron, d_model, …).
AXIS_KINDS = ("token", "frequency", "index")


@dataclass(frozen=True)
class Axis:
    name: str
    size: int
    kind: str = "index"
    ticks: tuple | None = None  # tick labels, one per index (None: the integers)

    def tick(self, index: int) -> str:
        return str(self.ticks[index]) if self.ticks is not None else str(index)


def token_axis(name: str, p: int) -> Axis:
    """An axis over the p tokens, labelled by their values."""
    return Axis(name, p, "token", tuple(str(i) for i in range(p)))


@dataclass(frozen=True)
class LabelledTensor:
    """``data`` with one :class:`Axis` per dimension.

    ``valid`` (optional, bool, broadcastable to ``data``) marks entries that exist: re-orderings
    of tasks whose grid is ragged (e.g. [c, a] for pow with gcd(n, p−1) > 1) set it and ``note``
    says why, instead of silently mis-indexing (design.md §6).
    """

    data: torch.Tensor
    axes: tuple
    title: str = ""
    valid: torch.Tensor | None = None
    note: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        if len(self.axes) != self.data.dim():
            raise ValueError(f"{len(self.axes)} axes for a {self.data.dim()}-d tensor")
        for axis, size in zip(self.axes, self.data.shape):
            if axis.size != size:
                raise ValueError(f"axis {axis.name!r} has size {axis.size}, data has {size}")

    @property
    def names(self) -> tuple:
        return tuple(axis.name for axis in self.axes)

    @property
    def shape(self) -> tuple:
        return tuple(self.data.shape)

    @property
    def ragged(self) -> bool:
        return self.valid is not None and not bool(self.valid.all())

    def axis(self, name: str) -> Axis:
        return self.axes[self.dim(name)]

    def dim(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"no axis {name!r} in {self.names}") from None

    def select(self, **indices) -> "LabelledTensor":
        """Fix axes by name, e.g. ``select(head=0, c=5)``; the fixed axes disappear."""
        data, axes, valid = self.data, list(self.axes), self.valid
        for name, index in indices.items():
            dim = [a.name for a in axes].index(name)
            data = data.select(dim, index)
            if valid is not None:
                valid = valid.expand(self.data.shape) if valid.shape != self.data.shape else valid
                valid = valid.select(dim, index)
            axes.pop(dim)
        return replace(self, data=data, axes=tuple(axes), valid=valid)

    def with_data(self, data: torch.Tensor, axes: tuple | None = None, title: str | None = None) -> "LabelledTensor":
        return replace(self, data=data, axes=tuple(axes) if axes is not None else self.axes,
                       title=self.title if title is None else title)
