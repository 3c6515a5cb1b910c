"""Training dynamics over checkpoints (design.md §6b): softmax collapse and the weight trajectory.

* Softmax collapse (Prieto et al. 2025): a training input whose float32 softmax gives the correct
  class probability exactly 1.0 — its cross-entropy gradient is then exactly zero.
* Weight trajectory: PCA of the flattened weights over the checkpoints (whole model, and per group:
  embed = W_E + W_pos, attention = W_Q/W_K/W_V/W_O, MLP = W_in/W_out, unembed = W_U; biases are
  frozen in the recipe and left out), and the step size ‖θ_{t+1} − θ_t‖ per checkpoint interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from grokviz.analysis.lastpos import last_position_grid

WEIGHT_GROUPS = {
    "embed": ("embed.W_E", "pos_embed.W_pos"),
    "attention": ("blocks.0.attn.W_Q", "blocks.0.attn.W_K", "blocks.0.attn.W_V", "blocks.0.attn.W_O"),
    "mlp": ("blocks.0.mlp.W_in", "blocks.0.mlp.W_out"),
    "unembed": ("unembed.W_U",),
}
WEIGHT_GROUPS["model"] = tuple(key for keys in WEIGHT_GROUPS.values() for key in keys)


def collapsed_fraction(logits: torch.Tensor, labels: torch.Tensor, loss: str = "cross_entropy") -> float:
    """Share of rows whose float32 softmax puts exactly 1.0 on the label ([rows, classes] logits).

    ``loss="stablemax"``: the float32 StableMax probabilities instead (:mod:`grokviz.core.losses`),
    i.e. collapse of a StableMax-trained run's own loss."""
    if len(labels) == 0:
        return float("nan")
    if loss == "stablemax":
        from grokviz.core.losses import stablemax_probabilities

        probabilities = stablemax_probabilities(logits.float())
    else:
        probabilities = torch.softmax(logits.float(), dim=-1)
    return float((probabilities.gather(1, labels[:, None]).squeeze(1) == 1.0).double().mean())


def softmax_collapse(source, task, train_rows: torch.Tensor, losses=("cross_entropy",)) -> list:
    """Per name in ``losses``, the fraction of the training inputs whose float32 probabilities under that
    loss have collapsed (``source``: model or state dict); the softmax's for ``cross_entropy``."""
    p = task.p
    logits = last_position_grid(source, ("logits",))["logits"].reshape(p * p, p)
    labels = task.labels()
    rows = train_rows[labels[train_rows] >= 0]
    return [collapsed_fraction(logits[rows], labels[rows], loss) for loss in losses]


@dataclass(frozen=True)
class WeightTrajectory:
    """``paths[group]`` [checkpoint, 2] PCA coordinates, ``explained[group]`` the two components'
    variance shares, ``steps[group]`` [checkpoint − 1] ‖θ_{t+1} − θ_t‖ over ``epochs``."""

    epochs: list
    paths: dict
    explained: dict
    steps: dict

    def to_json(self) -> dict:
        return {"epochs": self.epochs, "explained_variance": self.explained, "steps": self.steps,
                "paths": {g: path.tolist() for g, path in self.paths.items()}}


def flatten_group(state: dict, group: str) -> torch.Tensor:
    return torch.cat([state[key].detach().double().reshape(-1) for key in WEIGHT_GROUPS[group]])


def pca_path(points: torch.Tensor, components: int = 2) -> tuple[torch.Tensor, list]:
    """[n, components] coordinates of the centred rows of ``points`` [n, dim] on their top principal
    axes (signs fixed so the first checkpoint is negative), and each axis's share of the variance."""
    centred = points - points.mean(0)
    if len(points) < 2:
        return torch.zeros(len(points), components, dtype=points.dtype), [0.0] * components
    # the n × n Gram matrix is cheap however many weights there are (n = checkpoints)
    gram = centred @ centred.T
    values, vectors = torch.linalg.eigh(gram)
    order = torch.argsort(values, descending=True)[:components]
    values, vectors = values[order].clamp_min(0), vectors[:, order]
    coordinates = vectors * values.sqrt()
    signs = torch.where(coordinates[0] > 0, -1.0, 1.0).to(coordinates.dtype)
    coordinates = coordinates * signs
    total = float(torch.linalg.eigvalsh(gram).clamp_min(0).sum())
    shares = [float(v) / total if total > 0 else 0.0 for v in values]
    if coordinates.shape[1] < components:
        pad = torch.zeros(len(points), components - coordinates.shape[1], dtype=coordinates.dtype)
        coordinates = torch.cat([coordinates, pad], 1)
        shares += [0.0] * (components - len(shares))
    return coordinates, shares


def weight_trajectory(states: list, epochs: list) -> WeightTrajectory:
    """PCA paths and step sizes of every weight group over the checkpoints' state dicts."""
    paths, explained, steps = {}, {}, {}
    for group in WEIGHT_GROUPS:
        points = torch.stack([flatten_group(state, group) for state in states])
        paths[group], explained[group] = pca_path(points)
        steps[group] = (points[1:] - points[:-1]).norm(dim=1).tolist()
    return WeightTrajectory(list(epochs), paths, explained, steps)
