"""Softmax collapse and the weight trajectory (design.md §6b)."""

from __future__ import annotations

from dataclasses import dataclass

from grokviz.analysis.reports import report


@report("softmax_collapse", "Softmax collapse")
def softmax_collapse(session, epoch):
    """Fraction of training inputs whose float32 softmax gives the correct class exactly 1.0."""
    from grokviz.analysis.training_dynamics import softmax_collapse as measure

    train_rows, _ = session.run.indices()
    return measure(session.run.state_dict(epoch), session.task, train_rows)


@dataclass(frozen=True)
class CollapseHistory:
    epochs: list
    collapsed: list


@report("softmax_collapse_history", "Softmax collapse over training", per_checkpoint=False)
def softmax_collapse_history(session, epoch, on_progress=None, cancel=None):
    """The collapsed fraction at every stored checkpoint."""
    from grokviz.analysis.reports.series import over_checkpoints

    epochs = list(session.epochs)
    return CollapseHistory(epochs, over_checkpoints(session, "softmax_collapse", epochs, on_progress, cancel))


@report("weight_trajectory", "Weight trajectory", per_checkpoint=False)
def weight_trajectory(session, epoch):
    """PCA of the flattened weights over the checkpoints (model and per group) and the step sizes."""
    from grokviz.analysis.training_dynamics import weight_trajectory as compute

    epochs = list(session.epochs)
    return compute([session.run.state_dict(e) for e in epochs], epochs)


@report("neuron_dynamics", "Neuron dynamics", per_checkpoint=False)
def neuron_dynamics(session, epoch, max_checkpoints: int | None = None, on_progress=None, cancel=None):
    """Per neuron and checkpoint its dominant frequency and fraction; commitment epoch and switch count."""
    from grokviz.analysis.reports.series import over_checkpoints
    from grokviz.analysis.neuron_dynamics import neuron_dynamics as compute
    from grokviz.analysis.reports.progress import subsample_epochs

    epochs = subsample_epochs(session.epochs, max_checkpoints)
    return compute(over_checkpoints(session, "neuron_fraction", epochs, on_progress, cancel), epochs)
