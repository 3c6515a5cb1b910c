"""Neuron clusters (design.md §6): a neuron belongs to frequency k when its fraction there > 0.85."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from grokviz.analysis.reports import report


@dataclass(frozen=True)
class NeuronsReport:
    """Per neuron: its dominant frequency (1 … p//2), that frequency's fraction, its cluster (0 = none).

    ``clusters`` maps frequency → neurons with fraction > ``threshold`` (neurons.CLUSTER_THRESHOLD).
    """

    threshold: float
    clusters: dict
    cluster_sizes: dict
    neurons_clustered: int
    dominant_frequency: torch.Tensor
    dominant_fraction: torch.Tensor
    cluster: torch.Tensor


@report("neurons", "Neuron clusters")
def neurons(session, epoch):
    """Each MLP neuron's dominant frequency and fraction, and the clusters above the 0.85 threshold."""
    from grokviz.analysis.neurons import CLUSTER_THRESHOLD, neuron_clusters

    fraction = session.report("neuron_fraction", epoch)
    clusters = neuron_clusters(fraction, CLUSTER_THRESHOLD)
    best = fraction.data[1:].max(0)  # row 0 (the constant) is 0 by definition
    cluster = torch.zeros(fraction.data.shape[-1], dtype=torch.int64)
    for k, members in clusters.items():
        cluster[members] = k
    return NeuronsReport(CLUSTER_THRESHOLD, clusters, {k: len(v) for k, v in clusters.items()},
                         sum(len(v) for v in clusters.values()), best.indices + 1, best.values, cluster)
