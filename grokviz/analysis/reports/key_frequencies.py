"""Key frequencies (design.md §6, §6a): the one implementation every view, the CLI and export read."""

from __future__ import annotations

from grokviz.analysis.reports import report


@report("neuron_activations", "MLP neurons at = over all inputs", large=True)
def neuron_activations(session, epoch):
    """Final-position ``pre`` and ``post`` (ReLU) of every MLP neuron as [a, b, neuron] LabelledTensors."""
    from grokviz.analysis.labelled import Axis, LabelledTensor, token_axis
    from grokviz.analysis.lastpos import last_position_grid

    # from the state dict: no module is built (nor TransformerLens imported) for this
    grid = last_position_grid(session.run.state_dict(epoch), outputs=("pre", "post"))
    p, d_mlp = session.p, grid["post"].shape[-1]
    axes = (token_axis("a", p), token_axis("b", p), Axis("neuron", d_mlp))
    return {name: LabelledTensor(grid[name].float(), axes, title=f"mlp {name} at =") for name in ("pre", "post")}


@report("neuron_fraction", "Neuron frequency fraction")
def neuron_fraction(session, epoch):
    """[freq, neuron] share of each neuron's 2-D spectrum in frequency k's block, in task coordinates."""
    from grokviz.analysis.neurons import neuron_frequency_fraction

    return neuron_frequency_fraction(session.report("neuron_activations", epoch)["post"].data,
                                     session.task.coordinates())


@report("key_frequencies", "Key frequencies")
def key_frequencies(session, epoch):
    """Key frequencies: W_E's strong frequencies (per operand) that a neuron cluster confirms."""
    from grokviz.analysis.neurons import CLUSTER_THRESHOLD
    from grokviz.analysis.spectrum import key_frequency_report

    fraction = session.report("neuron_fraction", epoch)
    return key_frequency_report(session.run.state_dict(epoch), fraction, CLUSTER_THRESHOLD, session.task.coordinates())


def run_key_frequencies(session) -> list:
    """The run's key frequencies: those of its final weights. Every per-checkpoint analysis that
    needs a frequency set (c/2 model, restricted/excluded loss, highlights) uses these, so a view
    at any checkpoint and ``grokviz analyze --checkpoint`` measure the same frequencies."""
    return [int(k) for k in session.report("key_frequencies", None).frequencies]


def run_circle_frequencies(session) -> list:
    """Frequencies whose embedding planes to draw: the run's key frequencies, or, for a run whose
    neurons confirm none yet (not grokked), W_E's own candidates (harmonics and unconfirmed), so
    the circles can still be watched forming."""
    keys = run_key_frequencies(session)
    if keys:
        return keys
    final = session.report("key_frequencies", None)
    return sorted(int(k) for k in (*final.harmonics, *final.unconfirmed))
