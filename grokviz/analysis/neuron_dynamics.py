"""Neuron dynamics over checkpoints (design.md §6b): per neuron and checkpoint its dominant
frequency and fraction (the ``neuron_fraction`` report, design.md §6), and from those:

* cluster: the dominant frequency where its fraction exceeds 0.85, else 0 (no cluster);
* commitment epoch: the first stored epoch from which the neuron stays in one (non-zero) cluster at
  every later checkpoint; −1 when it ends unclustered;
* switch count: how often its cluster (0 included) changes between consecutive checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from grokviz.analysis.neurons import CLUSTER_THRESHOLD


@dataclass(frozen=True)
class NeuronDynamics:
    epochs: list
    dominant: torch.Tensor  # [checkpoint, neuron] int: argmax frequency (k ≥ 1)
    fraction: torch.Tensor  # [checkpoint, neuron]: its fraction
    cluster: torch.Tensor  # [checkpoint, neuron] int: dominant where fraction > threshold, else 0
    final_fraction: torch.Tensor  # [checkpoint, neuron]: fraction at the neuron's final cluster (0 if none)
    commitment: torch.Tensor  # [neuron] epoch (−1: unclustered at the end)
    switches: torch.Tensor  # [neuron]
    order: list  # neurons sorted by final cluster, then commitment epoch
    threshold: float

    def to_json(self) -> dict:
        final = self.cluster[-1]
        committed = self.commitment[self.commitment >= 0].double()
        return {"epochs": self.epochs, "threshold": self.threshold,
                "final_clusters": {int(k): int((final == k).sum()) for k in torch.unique(final[final > 0])},
                "committed_neurons": int((self.commitment >= 0).sum()),
                "median_commitment_epoch": float(committed.median()) if len(committed) else None,
                "mean_switches": float(self.switches.double().mean()),
                "commitment": self.commitment.tolist(), "switches": self.switches.tolist()}


def neuron_dynamics(fractions: list, epochs: list, threshold: float = CLUSTER_THRESHOLD) -> NeuronDynamics:
    """From the [freq, neuron] fractions at each of ``epochs`` (row 0, the constant, is ignored)."""
    stack = torch.stack([f.data if hasattr(f, "data") else f for f in fractions]).double()  # [t, freq, neuron]
    best, index = stack[:, 1:].max(1)
    dominant = index + 1
    cluster = torch.where(best > threshold, dominant, torch.zeros_like(dominant))
    final = cluster[-1]
    same_after = (cluster == final).flip(0).cumprod(0).flip(0).bool() & (final > 0)  # [t, neuron]
    first = same_after.double().argmax(0)
    table = torch.tensor(list(epochs), dtype=torch.long)
    commitment = torch.where(same_after.any(0), table[first], torch.full_like(first, -1))
    switches = (cluster[1:] != cluster[:-1]).sum(0)
    final_fraction = stack.gather(1, final.clamp_min(0)[None, None, :].expand(len(epochs), 1, -1)).squeeze(1)
    final_fraction = torch.where(final > 0, final_fraction, torch.zeros_like(final_fraction))
    big = int(table.max()) + 1
    order = sorted(range(len(final)), key=lambda n: (int(final[n]) == 0, int(final[n]),
                                                     int(commitment[n]) if commitment[n] >= 0 else big))
    return NeuronDynamics(list(epochs), dominant, best.float(), cluster, final_fraction.float(), commitment, switches,
                          order, threshold)
