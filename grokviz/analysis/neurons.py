"""Neuron spectra (design.md §6): frequency fraction & clusters, spectral filters, W_neur, W_logit,
and the attention pattern from ``=`` per head over (a, b).

Spectra are taken in the task's coordinates (design.md §6a, ``coords``: a
:class:`~grokviz.core.coordinates.TaskCoordinates`): axis a in φ, b in ψ, c in χ; None is add's
identity maps (§6 exactly)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from grokviz.analysis import fourier as F
from grokviz.analysis.labelled import token_axis
from grokviz.analysis.fourier_axes import basis_axis, frequency_axis
from grokviz.analysis.labelled import Axis, LabelledTensor
from grokviz.analysis.lastpos import last_position_grid
from grokviz.core.coordinates import coordinates_of

CLUSTER_THRESHOLD = 0.85


def _block_membership(n: int, dtype) -> torch.Tensor:
    """[n//2+1, n]: frequency k's block rows {const, sin k, cos k} (k = 0: const only)."""
    freqs, _ = F.basis_frequencies(n)
    member = torch.zeros(n // 2 + 1, n, dtype=dtype)
    member[torch.tensor(freqs), torch.arange(n)] = 1.0
    member[:, 0] = 1.0
    return member


def neuron_frequency_fraction(source, coords=None) -> LabelledTensor:
    """[freq, neuron] share of each neuron's (non-constant) 2-D spectrum in frequency k's block.

    ``source`` is a model or the final-position ``mlp.hook_post`` as [a, b, neuron]. Axis a goes
    to the Fourier basis of Z_n in φ, axis b in ψ (design.md §6a; tokens outside the group drop
    out), [const, const] is zeroed, and the squares in the 3×3 block {const, sin k, cos k}² are
    divided by the neuron's total (design.md §6). Row 0 is 0.
    """
    post = last_position_grid(source, ("post",))["post"] if not isinstance(source, torch.Tensor) else source
    coords = coordinates_of(coords, post.shape[0])
    n = coords.n
    coefficients = F.transform_in(F.transform_in(post.detach().double(), 0, coords.phi), 1, coords.psi)
    squares = coefficients.square()
    squares[0, 0] = 0.0
    total = squares.sum((0, 1))
    member = _block_membership(n, squares.dtype)
    block = torch.einsum("ki,ijn,kj->kn", member, squares, member)
    fraction = torch.where(total > 0, block / total.clamp_min(1e-300), torch.zeros_like(block))
    axes = (frequency_axis("freq", n), Axis("neuron", post.shape[-1]))
    return LabelledTensor(fraction.float(), axes, title="neuron frequency fraction")


def neuron_clusters(fraction, threshold: float = CLUSTER_THRESHOLD) -> dict:
    """Frequency → neurons whose fraction at it exceeds ``threshold`` (design.md §6: 0.85)."""
    data = fraction.data if isinstance(fraction, LabelledTensor) else fraction
    best, freq = data.max(0)
    clusters: dict[int, list] = {}
    for neuron in torch.nonzero(best > threshold).flatten().tolist():
        clusters.setdefault(int(freq[neuron]), []).append(int(neuron))
    return dict(sorted(clusters.items()))


@torch.no_grad()
def neuron_input_weights(model, include_pos: bool = True) -> LabelledTensor:
    """W_neur [pos, head, token, neuron]: each token's direct input to each neuron through one head's OV.

    (W_E[:p] + W_pos[pos]) · W_V[h] · W_O[h] · W_in for pos ∈ {a, b} (biases left out).
    """
    p = model.cfg.p
    attn, mlp = model.blocks[0].attn, model.blocks[0].mlp
    embed = model.embed.W_E[:p]
    resid = torch.stack([embed + model.pos_embed.W_pos[j] if include_pos else embed for j in (0, 1)])
    ov_in = torch.einsum("hde,hem,mn->hdn", attn.W_V, attn.W_O, mlp.W_in)  # [head, d_model, neuron]
    data = torch.einsum("jtd,hdn->jhtn", resid, ov_in)
    axes = (Axis("pos", 2, "index", ("a", "b")), Axis("head", model.cfg.n_heads), token_axis("token", p),
            Axis("neuron", model.cfg.d_mlp))
    return LabelledTensor(data, axes, title="W_neur")


@dataclass(frozen=True)
class SpectralFilter:
    """Per-neuron filter response: ``magnitude`` and ``phase`` [pos, (head,) neuron, freq]."""

    magnitude: LabelledTensor
    phase: LabelledTensor


def neuron_spectral_filter(model, per_head: bool = False, coords=None) -> SpectralFilter:
    """Fourier transform over the token axis of each neuron's direct input (design.md §6).

    Amplitudes are real-space (a unit-amplitude wave of frequency k in the input gives M_k),
    phases follow :func:`fourier.frequency_phase`. Heads are summed unless ``per_head``. The
    input from position a is read in φ, from b in ψ (design.md §6a).
    """
    weights = neuron_input_weights(model)
    data = weights.data if per_head else weights.data.sum(1)
    token_dim = 2 if per_head else 1
    data = data.movedim(token_dim, -1).double()  # [pos, ..., neuron, token]
    coords = coordinates_of(coords, model.cfg.p)
    coefficients = torch.stack([F.transform_in(data[0], -1, coords.phi), F.transform_in(data[1], -1, coords.psi)])
    p = coords.n
    magnitude = F.wave_amplitude(coefficients, -1, is_fourier=True).float()
    phase = F.frequency_phase(coefficients, -1).float()
    lead = (weights.axes[0], weights.axes[1]) if per_head else (weights.axes[0],)
    axes = lead + (weights.axes[3], frequency_axis("freq", p))
    return SpectralFilter(LabelledTensor(magnitude, axes, title="filter magnitude"),
                          LabelledTensor(phase, axes, title="filter phase"))


@torch.no_grad()
def logit_weights_fourier(model, coords=None) -> LabelledTensor:
    """W_logit = W_out · W_U [neuron, c] with c in Nanda's Fourier basis of Z_n read through χ (§6, §6a)."""
    coords = coordinates_of(coords, model.cfg.p)
    w_logit = model.blocks[0].mlp.W_out @ model.unembed.W_U
    data = F.transform_in(w_logit, -1, coords.chi)
    return LabelledTensor(data, (Axis("neuron", model.cfg.d_mlp), basis_axis("c", coords.n)), title="W_logit (Fourier)")


@torch.no_grad()
def attention_from_equals(model) -> LabelledTensor:
    """Attention pattern of the ``=`` query per head over all inputs: [head, key_pos, a, b]."""
    p = model.cfg.p
    pattern = last_position_grid(model, ("pattern",))["pattern"].permute(2, 3, 0, 1).contiguous()
    axes = (Axis("head", model.cfg.n_heads), Axis("key_pos", 3, "index", ("a", "b", "=")), token_axis("a", p),
            token_axis("b", p))
    return LabelledTensor(pattern, axes, title="attention from =")
