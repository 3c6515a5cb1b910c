"""Spectral analysis of the embedding and unembedding (design.md §6 key frequencies, §6a coordinates).

Every function takes the task's coordinates (:class:`grokviz.core.coordinates.TaskCoordinates`,
``coords``): W_E's rows are read in each operand's own map (φ for a, ψ for b) and W_U's columns in
χ. ``coords=None`` means the identity maps of add (design.md §6 exactly).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from grokviz.analysis.fourier import magnitude_in
from grokviz.core.coordinates import additive_map, coordinates_of
from grokviz.core.weights import Weights

TOP_FREQUENCIES = 5  # design.md §6a: concentration = share of the non-constant norm in the top 5


@dataclass(frozen=True)
class KeyFrequencies:
    """Frequencies carrying most of a matrix's norm over the token axis, with their scores.

    ``fraction[k]`` is the share of the (non-constant) squared norm at frequency k (sin k and
    cos k combined), k = 0 … n//2 (index 0, the constant, is 0 by definition here).
    """

    frequencies: list
    fraction: torch.Tensor
    threshold: float


def frequency_norm_fraction(matrix: torch.Tensor, token_dim: int = 0, cmap=None) -> torch.Tensor:
    """Share of the squared norm per frequency along ``token_dim``, constant term excluded.

    ``cmap`` (a :class:`~grokviz.core.coordinates.CoordinateMap`) reads the token axis in task
    coordinates (design.md §6a); None is the token itself.
    """
    if cmap is None:
        cmap = additive_map(matrix.shape[token_dim])
    magnitude = magnitude_in(matrix.detach().to(torch.float64), token_dim, cmap)
    squared = (magnitude**2).movedim(token_dim, 0).reshape(magnitude.shape[token_dim], -1).sum(-1)
    squared[0] = 0.0
    total = squared.sum()
    return squared / total if total > 0 else squared


def key_threshold(n: int) -> float:
    """A frequency is key when it holds ≥ max(5 %, 1.5 / n_freq) of the norm (≈ 1.5× an even share)."""
    return max(0.05, 1.5 / max(n // 2, 1))


def concentration(fraction: torch.Tensor, top: int = TOP_FREQUENCIES) -> float:
    """Share of the non-constant squared norm in the ``top`` strongest frequencies (design.md §6a)."""
    return float(torch.sort(fraction[1:], descending=True).values[:top].sum())


def key_frequencies(model, source: str = "W_E", coords=None, operand: str = "a") -> KeyFrequencies:
    """Embedding-side candidates: W_E's number-token rows in ``operand``'s map (or W_U's columns
    in χ with ``source='W_U'``). The confirmed key set is :func:`key_frequency_report`'s.

    ``model``: a GrokTransformer, a state dict or :class:`~grokviz.core.weights.Weights`.
    """
    weights = Weights.of(model)
    p = weights.p
    coords = coordinates_of(coords, p)
    if source == "W_E":
        matrix, dim, cmap = weights.W_E[:p], 0, coords.operand(operand)
    elif source == "W_U":
        matrix, dim, cmap = weights.W_U, 1, coords.chi
    else:
        raise ValueError(f"unknown source {source!r}")
    fraction = frequency_norm_fraction(matrix, dim, cmap).float()
    threshold = key_threshold(cmap.n)
    keys = sorted(int(k) for k in torch.nonzero(fraction >= threshold).flatten())
    return KeyFrequencies(keys, fraction, threshold)


def _is_harmonic(k: int, keys, n: int) -> bool:
    """k ≡ ±j·k' (mod n) for a key k' and j = 2 … 4."""
    return any(((j * key) % n) in (k, (-k) % n) for key in keys for j in (2, 3, 4))


@dataclass(frozen=True)
class KeyFrequencyReport:
    """Key frequencies: those W_E's spectrum and the neuron clusters both confirm (design.md §6, §6a).

    ``per_operand`` gives a's and b's sets (each in its own map; equal when φ and ψ agree) and
    ``frequencies`` their union. ``harmonics`` are W_E candidates without a cluster of their own
    that are multiples (×2 … ×4, mod n) of a key frequency, ``unconfirmed`` the other W_E
    candidates without a cluster; neither is key. ``scores[k]`` is W_E's norm fraction at k
    (operand a's map). ``cross_check`` notes W_U's (χ) disagreement.
    """

    frequencies: list
    scores: dict
    from_W_E: KeyFrequencies
    from_W_U: KeyFrequencies
    cluster_sizes: dict
    agree: bool
    notes: list
    per_operand: dict = field(default_factory=dict)
    harmonics: list = field(default_factory=list)
    unconfirmed: list = field(default_factory=list)
    n: int = 0


CONFIRM_FRACTION = 0.5  # a neuron confirms its dominant frequency when that holds most of its spectrum


def cluster_minimum(d_mlp: int) -> int:
    """Neurons a cluster needs to confirm a frequency: max(2, 2 % of the neurons)."""
    return max(2, int(0.02 * d_mlp + 0.999))


def confirmed_by_neurons(fraction: torch.Tensor) -> dict:
    """Frequency → number of neurons it dominates (fraction > ½), for those with ≥ :func:`cluster_minimum`.

    design.md §6's clusters (fraction > 0.85) are reported as they are; confirming a key frequency
    asks only that enough neurons be *mostly* at it, because small models' neurons are less pure
    (measured at p = 23: median best fraction 0.72) while a harmonic of a key frequency, carried by
    that frequency's own neurons, dominates none.
    """
    best, freq = fraction.max(0)
    counts = torch.bincount(freq[best > CONFIRM_FRACTION], minlength=fraction.shape[0])
    minimum = cluster_minimum(fraction.shape[-1])
    return {int(k): int(c) for k, c in enumerate(counts.tolist()) if k > 0 and c >= minimum}


def _confirmed_keys(candidates: dict, confirmed) -> tuple[dict, list]:
    """(per operand, the union): each operand's W_E candidates that the neurons confirm."""
    per_operand = {operand: [int(k) for k in found if int(k) in confirmed] for operand, found in candidates.items()}
    return per_operand, sorted(set(per_operand["a"]) | set(per_operand["b"]))


def key_frequency_report(model, neuron_fraction=None, cluster_threshold: float | None = None,
                         coords=None) -> KeyFrequencyReport:
    """Key frequencies = W_E candidates (per operand, in task coordinates) that the neurons confirm.

    ``neuron_fraction`` is the [freq, neuron] tensor of
    :func:`grokviz.analysis.neurons.neuron_frequency_fraction` in the same coordinates (computed
    when None). ``cluster_threshold`` defines the reported clusters (design.md §6: 0.85); the
    confirmation rule is :func:`confirmed_by_neurons`.
    """
    from grokviz.analysis.neurons import CLUSTER_THRESHOLD, neuron_clusters, neuron_frequency_fraction

    weights = Weights.of(model)
    coords = coordinates_of(coords, weights.p)
    cluster_threshold = CLUSTER_THRESHOLD if cluster_threshold is None else cluster_threshold
    if neuron_fraction is None:
        neuron_fraction = neuron_frequency_fraction(model, coords)
    data = neuron_fraction if isinstance(neuron_fraction, torch.Tensor) else neuron_fraction.data
    clusters = neuron_clusters(data, cluster_threshold)
    sizes = {k: len(v) for k, v in sorted(clusters.items())}
    confirmed = set(confirmed_by_neurons(data))
    candidates = {operand: key_frequencies(weights, "W_E", coords, operand) for operand in ("a", "b")}
    from_u = key_frequencies(weights, "W_U", coords)
    per_operand, keys = _confirmed_keys({op: found.frequencies for op, found in candidates.items()}, confirmed)
    leftover = sorted({k for found in candidates.values() for k in found.frequencies} - set(keys))
    harmonics = [k for k in leftover if _is_harmonic(k, keys, coords.n)]
    unconfirmed = [k for k in leftover if k not in harmonics]
    notes = []
    if harmonics:
        notes.append(f"W_E also carries {harmonics}, harmonics of the key frequencies without a neuron cluster of their own")
    if unconfirmed:
        notes.append(f"W_E candidates {unconfirmed} dominate too few neurons (< {cluster_minimum(data.shape[-1])}): not key")
    clusters_only = sorted(confirmed - set(keys))
    if clusters_only:
        notes.append(f"neuron clusters at {clusters_only} are not among W_E's strong frequencies")
    if set(from_u.frequencies) != set(keys):
        notes.append(f"W_U key frequencies {from_u.frequencies} differ from {keys}")
    from_e = candidates["a"]
    return KeyFrequencyReport(keys, {k: float(from_e.fraction[k]) for k in keys}, from_e, from_u, sizes,
                              not notes, notes, per_operand, harmonics, unconfirmed, coords.n)


def key_frequencies_only(model, coords=None, post: torch.Tensor | None = None) -> list[int]:
    """Exactly ``key_frequency_report(model, coords=coords).frequencies``, at a fraction of the
    cost: the live progress measures find them at every checkpoint (:mod:`grokviz.analysis.live`).

    A neuron's block fractions sum to at most 1 (the blocks share no entry), so a neuron is
    dominated by k (:data:`CONFIRM_FRACTION` = ½) exactly when its fraction at k exceeds ½:
    confirming W_E's candidates needs their own blocks only
    (:func:`~grokviz.analysis.neurons.neuron_fraction_at`). Falls back to the full report where
    a map is not a bijection. ``post``: the MLP activations at ``=`` over the [a, b] grid, when
    the caller has them (computed otherwise).
    """
    from grokviz.analysis.lastpos import last_position_grid
    from grokviz.analysis.neurons import neuron_fraction_at

    weights = Weights.of(model)
    coords = coordinates_of(coords, weights.p)
    candidates = {operand: key_frequencies(weights, "W_E", coords, operand).frequencies for operand in ("a", "b")}
    wanted = sorted({int(k) for found in candidates.values() for k in found if int(k) > 0})
    if not wanted:
        return []
    if post is None:
        post = last_position_grid(weights, ("post",))["post"]
    post = post.reshape(weights.p, weights.p, -1)
    fraction = neuron_fraction_at(post, coords, wanted)
    if fraction is None:
        return [int(k) for k in key_frequency_report(weights, coords=coords).frequencies]
    minimum = cluster_minimum(post.shape[-1])
    confirmed = {k for k, row in zip(wanted, fraction) if int((row > CONFIRM_FRACTION).sum()) >= minimum}
    return _confirmed_keys(candidates, confirmed)[1]


@dataclass(frozen=True)
class TokenBasis:
    """Which ordering of one operand's tokens makes W_E sparse (design.md §6a, "which basis").

    ``concentration[name]`` is the share of W_E's non-constant squared Fourier norm in the top 5
    frequencies when its rows are ordered by that coordinate; ``best`` the most concentrated.
    ``fraction[name]`` holds the whole spectrum (k = 0 … n//2) for side-by-side views.
    """

    best: str
    concentration: dict
    fraction: dict

    def to_json(self) -> dict:
        return {"best": self.best, "concentration": self.concentration,
                "fraction": {k: v.tolist() for k, v in self.fraction.items()}}


BASIS_MEANINGS = {
    "additive": "waves in the token t itself: cos(2πk·t/p) — the clock/pizza circuit of addition",
    "power": "waves in t^m: cos(2πk·t^m/p) — the model adds a^m + b^n on a circle (polar, De Moivre)",
    "discrete_log": "waves in log_g t: cos(2πk·log_g t/(p−1)) — multiplication as addition of exponents",
}


def token_basis(model, task) -> dict:
    """For operands a and b: W_E's spectrum in each of :func:`~grokviz.core.coordinates.token_orderings`."""
    from grokviz.core.coordinates import token_orderings

    weights = Weights.of(model)
    embedding = weights.W_E[:weights.p]
    out = {}
    for operand in ("a", "b"):
        fractions = {name: frequency_norm_fraction(embedding, 0, cmap).float()
                     for name, cmap in token_orderings(task, operand).items()}
        scores = {name: concentration(fraction) for name, fraction in fractions.items()}
        out[operand] = TokenBasis(max(scores, key=scores.get), scores, fractions)
    return out
