"""Key frequencies (design.md §6, §6a): the one implementation every view, the CLI and export read."""

from __future__ import annotations

from grokviz.analysis.reports import report


@report("neuron_fraction", "Neuron frequency fraction")
def neuron_fraction(session, epoch):
    """[freq, neuron] share of each neuron's 2-D spectrum in frequency k's block, in task coordinates."""
    from grokviz.analysis.neurons import neuron_frequency_fraction

    return neuron_frequency_fraction(session.model(epoch), session.task.coordinates())


@report("key_frequencies", "Key frequencies")
def key_frequencies(session, epoch):
    """Key frequencies: W_E's strong frequencies (per operand) that a neuron cluster confirms."""
    from grokviz.analysis.neurons import CLUSTER_THRESHOLD
    from grokviz.analysis.spectrum import key_frequency_report

    fraction = session.report("neuron_fraction", epoch)
    return key_frequency_report(session.model(epoch), fraction, CLUSTER_THRESHOLD, session.task.coordinates())
