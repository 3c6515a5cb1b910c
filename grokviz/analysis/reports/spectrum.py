"""The Spectrum view's numbers: Fourier norms of W_E / W_U / W_logit, neuron spectra and filters (design.md §6)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from grokviz.analysis.reports import report


@dataclass(frozen=True)
class SpectrumReport:
    """``norms[matrix]``: norm of each Fourier component (const, sin 1, cos 1, …) along the token
    axis (W_E's number rows; W_U and W_logit = W_out·W_U over the output c), over the other axis.
    ``fractions`` [freq 1 … p//2, neuron] as in the ``neuron_fraction`` report; ``neuron_order``
    sorts neurons by cluster (clustered first, by frequency), then by dominant frequency, then by
    fraction (descending); ``filters[pos]`` the spectral filter of input ``pos`` ∈ {a, b}
    (magnitude and phase [neuron, freq 0 … p//2], heads summed); ``output_norm`` ‖W_out[n]‖;
    ``dead`` neurons are never active (post = 0 on every input). Per-neuron dominant frequency,
    fraction and cluster are the ``neurons`` report's.
    """

    p: int
    key_freqs: list
    components: list
    norms: dict
    fractions: torch.Tensor
    neuron_order: torch.Tensor
    dead: torch.Tensor
    output_norm: torch.Tensor
    filters: dict


def component_norms(matrix: torch.Tensor, token_dim: int) -> torch.Tensor:
    """Norm of each Fourier component along ``token_dim`` of a 2-D matrix, over the other axis."""
    from grokviz.analysis.fourier import fourier_transform

    coefficients = fourier_transform(matrix.detach().double(), dims=token_dim)
    return coefficients.norm(dim=1 - token_dim)


@report("spectrum", "Fourier spectra of the weights and neurons")
@torch.no_grad()
def spectrum(session, epoch):
    """W_E / W_U / W_logit norms per Fourier component, neuron × frequency fractions, spectral filters."""
    import numpy as np

    from grokviz.analysis.fourier import fourier_basis
    from grokviz.analysis.neurons import neuron_spectral_filter
    from grokviz.analysis.reports.key_frequencies import run_key_frequencies

    model = session.model(epoch)
    p = session.p
    mlp, W_U = model.blocks[0].mlp, model.unembed.W_U
    norms = {"W_E": component_norms(model.embed.W_E[:p], 0), "W_U": component_norms(W_U, 1),
             "W_logit": component_norms(mlp.W_out @ W_U, 1)}
    neurons = session.report("neurons", epoch)
    frequency, fraction, cluster = (t.numpy() for t in (neurons.dominant_frequency, neurons.dominant_fraction,
                                                         neurons.cluster))
    order = torch.from_numpy(np.lexsort((-fraction, frequency, cluster == 0)))
    post = session.report("neuron_activations", epoch)["post"].data
    spectral = neuron_spectral_filter(model)  # [pos, neuron, freq]
    filters = {name: {"magnitude": spectral.magnitude.data[i], "phase": spectral.phase.data[i]}
               for i, name in enumerate(("a", "b"))}
    return SpectrumReport(p, run_key_frequencies(session), fourier_basis(p)[1], norms,
                          session.report("neuron_fraction", epoch).data[1:], order,
                          post.abs().sum(dim=(0, 1)) == 0, mlp.W_out.norm(dim=1), filters)
