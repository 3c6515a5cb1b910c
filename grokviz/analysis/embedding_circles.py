"""Embedding circles (design.md §6b): each key frequency's plane of W_E, and how circular it is.

For frequency k and an operand with task coordinate u = φ(t) in Z_n (design.md §6a; the identity
for add), W_E's (cos k, sin k) directions are the d_model vectors Σ_t cos(2πk·u_t/n)·E_t and
Σ_t sin(2πk·u_t/n)·E_t (over the number tokens in the group). Orthonormalised (sin against cos),
they span a plane; token t's point is E_t projected on it. An embedding that is a clean wave at
k puts the tokens on a circle in the order k·u mod n.

Circularity of one plane (1 = ideal): with the centred points as complex numbers z_t and the
ideal positions e_t = exp(±2πi·k·u_t/n),

    circularity = max over ± of |Σ_t z_t·conj(e_t)|² / (Σ_t |z_t|² · Σ_t |e_t|²),

the share of the points' spread explained by one common radius and phase, r·e^{iθ}·e_t. It is 1
exactly when every point sits at the same radius at angle θ ± 2πk·u_t/n (equal radii, equally
spaced angles in order k·u); unequal radii, jittered or shuffled angles lower it. The plane is
chosen from the same points, so an embedding with no structure still shows a partial circle: N
random tokens in d_model dimensions score about d_model / (d_model + N) (0.53 for p = 113,
d_model = 128, measured), and ``plane_share`` (the share of the centred embedding's variance that
lies in the plane; 2/d_model for noise) tells whether the circle carries much of the embedding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from grokviz.analysis.coordinates import operand_maps


@dataclass(frozen=True)
class OperandCircles:
    """One operand's planes: ``points`` [freq, token, 2] (NaN for tokens outside the group)."""

    operand: str  # "a" or "b"
    coordinate: list  # [token] its coordinate u (−1 outside the group)
    n: int
    points: torch.Tensor
    circularity: list  # per frequency
    plane_share: list  # per frequency: share of the centred embedding's variance in the plane

    def to_json(self) -> dict:
        return {"operand": self.operand, "n": self.n, "circularity": self.circularity, "plane_share": self.plane_share}


@dataclass(frozen=True)
class EmbeddingCircles:
    frequencies: list
    operands: list  # OperandCircles for a (and b when ψ ≠ φ)

    def to_json(self) -> dict:
        return {"frequencies": self.frequencies,
                "circularity": {o.operand: dict(zip(map(str, self.frequencies), o.circularity)) for o in self.operands},
                "plane_share": {o.operand: dict(zip(map(str, self.frequencies), o.plane_share)) for o in self.operands}}


def _waves(coordinate: torch.Tensor, n: int, k: int) -> torch.Tensor:
    """[tokens, 2] (cos, sin) of 2πk·u/n for the tokens inside the group."""
    angle = 2 * math.pi * k * coordinate.double() / n
    return torch.stack([angle.cos(), angle.sin()], 1)


def plane_points(embed: torch.Tensor, coordinate: torch.Tensor, n: int, k: int) -> torch.Tensor:
    """[tokens, 2]: the tokens' embeddings projected on W_E's orthonormalised (cos k, sin k) plane."""
    inside = coordinate >= 0
    rows = embed[inside].double()
    directions = rows.T @ _waves(coordinate[inside], n, k)  # [d_model, 2]
    basis, r = torch.linalg.qr(directions)
    basis = basis * torch.sign(torch.diagonal(r)).where(torch.diagonal(r) != 0, torch.ones(2, dtype=r.dtype))
    points = torch.full((len(coordinate), 2), float("nan"), dtype=torch.float64)
    points[inside] = rows @ basis
    return points


def circularity(points: torch.Tensor, coordinate: torch.Tensor, n: int, k: int) -> float:
    """Share of the centred points explained by an ideal circle at equal angles k·u (see the module)."""
    inside = (coordinate >= 0) & torch.isfinite(points).all(1)
    z = torch.complex(points[inside, 0].double(), points[inside, 1].double())
    z = z - z.mean()
    angle = 2 * math.pi * k * coordinate[inside].double() / n
    spread = float(z.abs().square().sum())
    if spread <= 0 or k % n == 0:
        return float("nan")
    best = 0.0
    for sign in (1.0, -1.0):
        e = torch.polar(torch.ones_like(angle), sign * angle)
        e = e - e.mean()
        energy = float(e.abs().square().sum())
        if energy > 0:
            best = max(best, float((z * e.conj()).sum().abs().square()) / (spread * energy))
    return best


def _plane_share(embed: torch.Tensor, points: torch.Tensor, coordinate: torch.Tensor) -> float:
    inside = coordinate >= 0
    rows = embed[inside].double()
    total = float((rows - rows.mean(0)).square().sum())
    plane = points[inside]
    return float((plane - plane.mean(0)).square().sum()) / total if total > 0 else float("nan")


def embedding_circles(embed: torch.Tensor, task, frequencies) -> EmbeddingCircles:
    """Points and circularity per frequency for operand a (and b when its coordinates differ).

    ``embed`` is W_E (its first p rows, the number tokens, are used).
    """
    maps = operand_maps(task)
    embed = embed[: task.p]
    operands = [("a", maps.phi)]
    if not torch.equal(maps.phi, maps.psi):
        operands.append(("b", maps.psi))
    out = []
    for name, coordinate in operands:
        planes = [plane_points(embed, coordinate, maps.n, int(k)) for k in frequencies]
        points = torch.stack(planes) if planes else torch.zeros(0, len(coordinate), 2, dtype=torch.float64)
        scores = [circularity(plane, coordinate, maps.n, int(k)) for plane, k in zip(planes, frequencies)]
        shares = [_plane_share(embed, plane, coordinate) for plane in planes]
        out.append(OperandCircles(name, coordinate.tolist(), maps.n, points.float(), scores, shares))
    return EmbeddingCircles([int(k) for k in frequencies], out)
