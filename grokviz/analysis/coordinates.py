"""Operand coordinates for the analyses of design.md §6b: token → position in the task's group.

The task-coordinates work (design.md §6a, :mod:`grokviz.core.coordinates`) supplies φ, ψ and n.
Until it is present this falls back to the identity maps (add's row of the §6a table), which is
exactly what today's analyses assume. Values are −1 for tokens outside the group.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class OperandMaps:
    phi: torch.Tensor  # [p] int64: φ(a), −1 outside the group
    psi: torch.Tensor  # [p] int64: ψ(b)
    n: int
    identity: bool
    name: str  # e.g. "additive" or "discrete_log"

    @property
    def symbols(self) -> tuple:
        """Axis letters: (a, b) for the identity maps, else (u, v) = (φ(a), ψ(b))."""
        return ("a", "b") if self.identity else ("u", "v")


def operand_maps(task) -> OperandMaps:
    """φ, ψ and the group order n of ``task`` (identity maps when core has no task coordinates)."""
    p = task.p
    try:
        from grokviz.core.coordinates import task_coordinates
    except ImportError:
        task_coordinates = None
    coords = None
    if task_coordinates is not None:
        try:
            coords = task_coordinates(task)
        except ValueError:  # e.g. mul with a composite p: no discrete logs, analyse the tokens as they are
            coords = None
    if coords is not None:
        phi = torch.tensor(coords.phi.values, dtype=torch.int64)
        psi = torch.tensor(coords.psi.values, dtype=torch.int64)
        return OperandMaps(phi, psi, int(coords.n), bool(coords.is_identity), coords.phi.name)
    identity = torch.arange(p)
    return OperandMaps(identity, identity.clone(), p, True, "additive")
