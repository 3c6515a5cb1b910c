"""Reports as the arrays the tabs and the figure set draw (no Qt, no new numbers).

Every number comes from a report of :mod:`grokviz.analysis.reports`, read through the run's
:class:`~grokviz.analysis.session.RunSession`; these functions only gather what one tab or figure
shows into a plain dict of numpy arrays (what ``grokviz.gui.figures``' ``draw_*`` and ``*_csv``
take), so they can run in a worker thread and the result be handed to the GUI thread.
"""

from __future__ import annotations

import numpy as np

RESID_POST = "blocks.0.hook_resid_post"


def _numpy(tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


def spectrum_view(session, epoch) -> dict:
    """The ``spectrum`` and ``neurons`` reports, and the neurons' activations for the per-neuron images."""
    spectrum = session.report("spectrum", epoch)
    neurons = session.report("neurons", epoch)
    activations = session.report("neuron_activations", epoch)
    return {
        "p": spectrum.p,
        "key_freqs": list(spectrum.key_freqs),
        "components": list(spectrum.components),
        "norms": {name: _numpy(values) for name, values in spectrum.norms.items()},
        "fractions": _numpy(spectrum.fractions),  # [frequency 1..p//2, neuron]
        "neuron_frequency": _numpy(neurons.dominant_frequency),
        "neuron_fraction": _numpy(neurons.dominant_fraction),
        "neuron_cluster": _numpy(neurons.cluster),  # 0 = no cluster
        "neuron_dead": _numpy(spectrum.dead),
        "neuron_order": _numpy(spectrum.neuron_order),
        "cluster_sizes": dict(neurons.cluster_sizes),
        "cluster_threshold": float(neurons.threshold),
        "output_norm": _numpy(spectrum.output_norm),
        "filters": {pos: {key: _numpy(values) for key, values in parts.items()} for pos, parts in spectrum.filters.items()},
        "pre": _numpy(activations["pre"].data),
        "post": _numpy(activations["post"].data),
    }


def neuron_fourier_map(post_neuron: np.ndarray) -> np.ndarray:
    """2-D Fourier magnitude (k_a, k_b) of one neuron's p×p activation, as the Spectrum tab shows it."""
    import torch

    from grokviz.analysis import fourier

    coefficients = fourier.fourier_2d(torch.as_tensor(post_neuron, dtype=torch.float64))
    return fourier.frequency_magnitude_2d(coefficients).numpy()


def short_hook_name(name: str) -> str:
    return name.replace("blocks.0.", "").replace("hook_", "")


def symmetry_view(session, epoch) -> dict:
    """The ``symmetry`` report at = and the resid_post activations at = as [c, a, d_model] for the slice plot."""
    from grokviz.analysis.reorder import reorder

    symmetry = session.report("symmetry", epoch)
    resid = reorder(session.activations(RESID_POST, epoch), session.task, "ca", position="=")
    return {
        "p": session.p,
        "hooks": list(symmetry.hooks),
        "labels": [short_hook_name(h) for h in symmetry.hooks],
        "score": np.array(symmetry.score, dtype=float),
        "explained": np.array(symmetry.explained, dtype=float),
        "constant": np.array(symmetry.constant, dtype=bool),
        "ragged": symmetry.ragged,
        "note": symmetry.note,
        "key_freqs": list(symmetry.key_freqs),
        "resid_post_ca": resid.data.float().permute(1, 2, 0).numpy(),  # [c, a, d_model] (NaN where ragged)
    }


def attention_view(session, epoch) -> dict:
    attention = session.report("attention", epoch)
    return {
        "p": session.p,
        "maps": _numpy(attention.maps.data),  # [head, key, a, b]
        "average": _numpy(attention.average),  # [key, a, b]
        "mean": _numpy(attention.mean),  # [head, key]
        "keys": list(attention.keys),
    }


def progress_view(session, max_checkpoints=None, report=None, cancelled=None) -> dict | None:
    """The ``progress`` and ``phases`` reports with the run's per-epoch losses; None when cancelled.

    ``report(fraction, text)`` hears each checkpoint; ``cancelled()`` stops early.
    """
    from grokviz.analysis.reports import ReportCancelled

    try:
        progress = session.report("progress", max_checkpoints=max_checkpoints, on_progress=report, cancel=cancelled)
        phases = session.report("phases", max_checkpoints=max_checkpoints)
    except ReportCancelled:
        return None
    table, history = progress.table, session.run.history
    result = {
        "key_freqs": list(progress.key_freqs),
        "epochs": np.asarray(table.epochs, dtype=float),
        "history_epoch": np.asarray(history.epoch, dtype=float),
        "history_train_loss": np.asarray(history.train_loss, dtype=float),
        "history_test_loss": np.asarray(history.test_loss, dtype=float),
        "phases": phase_spans(phases, float(history.epoch[-1]) if len(history) else float(table.epochs[-1])),
        "phase_epochs": phases.to_dict(),
    }
    for name, values in table.columns.items():
        result[name] = np.asarray(values, dtype=float)
    result["cos_coef"] = {int(k): table.cos_coeffs[:, int(k) - 1] for k in progress.key_freqs}
    return result


def phase_spans(phases, last_epoch: float) -> list:
    """[(name, start, end)] to shade from :class:`grokviz.analysis.phases.Phases` (memorisation →
    train accuracy 99 %, circuit formation → test accuracy 99 %, clean-up → end of clean-up)."""
    spans = []
    memorised, grokked, end = phases.memorised_epoch, phases.grokked_epoch, phases.cleanup_end_epoch
    if memorised is not None:
        spans.append(("memorisation", 0.0, float(memorised)))
        if grokked is not None:
            spans.append(("circuit formation", float(memorised), float(grokked)))
            if end is not None:
                spans.append(("clean-up", float(grokked), float(end)))
            else:  # no end detected by the last checkpoint: shade to the end, no end line
                spans.append(("clean-up (no end detected)", float(grokked), float(last_epoch)))
    return spans
