"""Softmax collapse and the weight trajectory (design.md §6b)."""

from __future__ import annotations

from dataclasses import dataclass

from grokviz.analysis.reports import report


COLLAPSE_MEASURES = ("the float32 softmax of the logits (Prieto et al.'s definition, design.md §6b), whatever "
                     "loss the run was trained with")


def _loss_note(session) -> str | None:
    """What the collapsed fraction means for a run not trained on the softmax (None for cross-entropy runs)."""
    if session.run.train_config.loss == "cross_entropy":
        return None
    return (f"this run was trained with the {session.run.train_config.loss} loss: a collapsed input here has "
            "a float32 softmax of exactly 1 at its label, but the run's own loss may still have a gradient there "
            "(own_loss_collapsed: its float32 probability under that loss is exactly 1)")


@dataclass(frozen=True)
class SoftmaxCollapse:
    """``fraction`` of the training inputs whose float32 softmax gives the label exactly 1.0, with the
    loss the run was trained with (``training_loss``), what the fraction measures, and the share
    collapsed under that loss itself (``own_loss_fraction``; the softmax's for cross-entropy runs)."""

    fraction: float
    training_loss: str
    own_loss_fraction: float
    note: str | None = None

    def to_json(self) -> dict:
        return {"collapsed_fraction": self.fraction, "measures": COLLAPSE_MEASURES,
                "training_loss": self.training_loss, "own_loss_collapsed": self.own_loss_fraction, "note": self.note}


@report("softmax_collapse", "Softmax collapse")
def softmax_collapse(session, epoch):
    """Fraction of training inputs whose float32 softmax gives the correct class exactly 1.0."""
    from grokviz.analysis.training_dynamics import softmax_collapse as measure

    train_rows, _ = session.run.indices()
    loss = session.run.train_config.loss
    fractions = measure(session.run.state_dict(epoch), session.task, train_rows,
                        tuple(dict.fromkeys(("cross_entropy", loss))))
    return SoftmaxCollapse(fractions[0], loss, fractions[-1], _loss_note(session))


@dataclass(frozen=True)
class CollapseHistory:
    """The collapsed fraction per checkpoint (the float32 softmax's, whatever the run's ``training_loss``),
    and under the run's own loss (``own_loss_collapsed``)."""

    epochs: list
    collapsed: list
    training_loss: str = "cross_entropy"
    own_loss_collapsed: list | None = None
    note: str | None = None

    def to_json(self) -> dict:
        return {"epochs": self.epochs, "collapsed": self.collapsed, "measures": COLLAPSE_MEASURES,
                "training_loss": self.training_loss, "own_loss_collapsed": self.own_loss_collapsed, "note": self.note}


@report("softmax_collapse_history", "Softmax collapse over training", per_checkpoint=False)
def softmax_collapse_history(session, epoch, on_progress=None, cancel=None):
    """The collapsed fraction at every stored checkpoint."""
    from grokviz.analysis.reports.series import over_checkpoints

    epochs = list(session.epochs)
    values = over_checkpoints(session, "softmax_collapse", epochs, on_progress, cancel)
    return CollapseHistory(epochs, [value.fraction for value in values], session.run.train_config.loss,
                           [value.own_loss_fraction for value in values], _loss_note(session))


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
