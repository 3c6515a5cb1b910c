"""Spectral analysis of the embedding and unembedding (design.md §6: key frequencies)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from grokviz.analysis.fourier import fourier_transform, frequency_magnitude
from grokviz.core.weights import Weights


@dataclass(frozen=True)
class KeyFrequencies:
    """Frequencies carrying most of a matrix's norm over the token axis, with their scores.

    ``fraction[k]`` is the share of the (non-constant) squared norm at frequency k (sin k and
    cos k combined), k = 0 … p//2 (index 0, the constant, is 0 by definition here).
    """

    frequencies: list
    fraction: torch.Tensor
    threshold: float


def frequency_norm_fraction(matrix: torch.Tensor, token_dim: int = 0) -> torch.Tensor:
    """Share of the squared norm per frequency along ``token_dim``, constant term excluded."""
    coefficients = fourier_transform(matrix.detach().to(torch.float64), dims=token_dim)
    magnitude = frequency_magnitude(coefficients, dim=token_dim)  # norm per frequency along that axis
    squared = (magnitude**2).movedim(token_dim, 0).reshape(magnitude.shape[token_dim], -1).sum(-1)
    squared[0] = 0.0
    total = squared.sum()
    return squared / total if total > 0 else squared


def key_threshold(p: int) -> float:
    """A frequency is key when it holds ≥ max(5 %, 1.5 / n_freq) of the norm (≈ 1.5× an even share)."""
    return max(0.05, 1.5 / max(p // 2, 1))


def key_frequencies(model, source: str = "W_E") -> KeyFrequencies:
    """Key frequencies from W_E's number-token rows (or W_U's columns with ``source='W_U'``).

    ``model``: a GrokTransformer, a state dict or :class:`~grokviz.core.weights.Weights`.
    """
    weights = Weights.of(model)
    p = weights.p
    if source == "W_E":
        matrix, dim = weights.W_E[:p], 0
    elif source == "W_U":
        matrix, dim = weights.W_U, 1
    else:
        raise ValueError(f"unknown source {source!r}")
    fraction = frequency_norm_fraction(matrix, token_dim=dim).float()
    threshold = key_threshold(p)
    keys = [int(k) for k in torch.nonzero(fraction >= threshold).flatten()]
    keys.sort(key=lambda k: -float(fraction[k]))
    return KeyFrequencies(sorted(keys), fraction, threshold)


@dataclass(frozen=True)
class KeyFrequencyReport:
    """Key frequencies from W_E with their scores, cross-checked with W_U and neuron clusters.

    ``scores[k]`` is W_E's norm fraction at k; ``cross_check`` lists, per source, which of the
    W_E key frequencies it also finds (``agree`` when W_U's and the clusters' sets match W_E's).
    """

    frequencies: list
    scores: dict
    from_W_E: KeyFrequencies
    from_W_U: KeyFrequencies
    cluster_sizes: dict
    agree: bool
    notes: list


def key_frequency_report(model, neuron_fraction=None, cluster_threshold: float | None = None) -> KeyFrequencyReport:
    """design.md §6 key frequencies (W_E) with scores; W_U and neuron clusters as cross-checks.

    ``neuron_fraction`` is the [freq, neuron] tensor of
    :func:`grokviz.analysis.neurons.neuron_frequency_fraction` (computed when None).
    """
    from grokviz.analysis.neurons import CLUSTER_THRESHOLD, neuron_clusters, neuron_frequency_fraction

    cluster_threshold = CLUSTER_THRESHOLD if cluster_threshold is None else cluster_threshold
    from_e = key_frequencies(model, "W_E")
    from_u = key_frequencies(model, "W_U")
    if neuron_fraction is None:
        neuron_fraction = neuron_frequency_fraction(model)
    data = neuron_fraction if isinstance(neuron_fraction, torch.Tensor) else neuron_fraction.data
    clusters = neuron_clusters(data, cluster_threshold)
    sizes = {k: len(v) for k, v in sorted(clusters.items())}
    keys = list(from_e.frequencies)
    notes = []
    if set(from_u.frequencies) != set(keys):
        notes.append(f"W_U key frequencies {from_u.frequencies} differ from W_E's {keys}")
    big = sorted(k for k, n in sizes.items() if n >= max(2, 0.02 * data.shape[-1]))
    if set(big) != set(keys):
        notes.append(f"neuron clusters (≥2 % of neurons) at {big} differ from W_E's {keys}")
    return KeyFrequencyReport(keys, {k: float(from_e.fraction[k]) for k in keys}, from_e, from_u, sizes,
                              not notes, notes)
