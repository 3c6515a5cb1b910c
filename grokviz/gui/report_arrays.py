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
    """The ``spectrum``, ``neurons`` and ``token_basis`` reports, and the neurons' activations for the
    per-neuron images."""
    spectrum = session.report("spectrum", epoch)
    neurons = session.report("neurons", epoch)
    activations = session.report("neuron_activations", epoch)
    basis = session.report("token_basis", epoch)
    return {
        "token_basis": {operand: {"best": found.best, "concentration": dict(found.concentration)}
                        for operand, found in basis.items()},
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
        "grid": neuron_grid(session.task),
    }


def neuron_grid(task) -> dict:
    """How the Spectrum tab draws one neuron over the inputs: in the task's coordinates (design.md
    §6a) — [u, v] = (φ(a), ψ(b)) where they differ from the tokens (pow, mul, …), else [a, b].

    ``rows[x, y]`` is the input row of image cell (x, y), ``valid`` False where the layout has no
    or several inputs (NaN there; ``note`` says why); labels name each axis' coordinate."""
    from grokviz.analysis.reorder import coordinate_layouts, layout_note, layout_table

    layout = "uv" if "uv" in coordinate_layouts(task) else "ab"
    rows, valid, _ = layout_table(task, layout)
    coords = task.coordinates()
    in_coordinates = layout == "uv"
    return {
        "layout": layout,
        "rows": _numpy(rows), "valid": _numpy(valid), "note": layout_note(task, layout),
        "row_label": coords.phi.label("a") if in_coordinates else "a",
        "column_label": coords.psi.label("b") if in_coordinates else "b",
        "name": "(u, v)" if in_coordinates else "(a, b)",
        "coordinates": (coords.phi, coords.psi) if in_coordinates else None,
    }


def neuron_on_grid(values_ab: np.ndarray, grid: dict) -> np.ndarray:
    """One neuron's [a, b] activations laid out on ``grid`` (:func:`neuron_grid`), NaN where invalid."""
    out = np.asarray(values_ab, dtype=np.float64).reshape(-1)[grid["rows"]]
    out[~grid["valid"]] = np.nan
    return out


def neuron_fourier_map(post_neuron: np.ndarray, coordinates=None) -> np.ndarray:
    """2-D Fourier magnitude (k_u, k_v) of one neuron's [a, b] activation, as the Spectrum tab shows
    it: over the tokens, or with ``coordinates`` (φ, ψ) in the task's (design.md §6a; the basis the
    neuron frequency fractions use)."""
    import torch

    from grokviz.analysis import fourier

    values = torch.as_tensor(post_neuron, dtype=torch.float64)
    if coordinates is None:
        coefficients = fourier.fourier_2d(values)
    else:
        phi, psi = coordinates
        coefficients = fourier.transform_in(fourier.transform_in(values, 0, phi), 1, psi)
    return fourier.frequency_magnitude_2d(coefficients).numpy()


def short_hook_name(name: str) -> str:
    return name.replace("blocks.0.", "").replace("hook_", "")


def symmetry_view(session, epoch) -> dict:
    """The ``symmetry`` report at = and the resid_post activations at = as [answer, operand, d_model] for
    the slice plot: [c, a] for add, the task's layout with c/2 mirrors otherwise ([c, u] for pow m = n,
    [w, u] for mul; design.md §6a), or [c, a] without mirrors (``mirrors`` False) when there is none."""
    from grokviz.analysis.reorder import default_ordering, has_mirrors, parse_layout, reorder

    symmetry = session.report("symmetry", epoch)
    layout = "".join(parse_layout(default_ordering(session.task)))
    resid = reorder(session.activations(RESID_POST, epoch), session.task, layout, position="=")
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
        "slice_layout": layout,
        "slice_ticks": [resid.axes[-1].tick(i) for i in range(resid.shape[-1])],
        "mirrors": has_mirrors(session.task, layout),
        "defined": symmetry.defined,
        "reason": symmetry.reason,
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
        "cos_argument": session.task.coordinates().cos_argument(),
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
