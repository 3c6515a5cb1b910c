"""Train and test accuracy at every stored checkpoint (for histories that record losses only)."""

from __future__ import annotations

from dataclasses import dataclass, field

from grokviz.analysis.reports import ReportCancelled, report


@dataclass(frozen=True)
class CheckpointAccuracy:
    """Accuracies computed from the weights at ``epochs`` (every stored checkpoint and the final
    weights). ``recorded`` is False when the run's history lacks per-epoch accuracies (Nanda's
    and the Grokking demo's formats), i.e. when these points are all the accuracy there is."""

    epochs: list
    train_acc: list
    test_acc: list
    recorded: bool
    notes: list = field(default_factory=list)


@report("checkpoint_accuracy", "Accuracy at every stored checkpoint", per_checkpoint=False)
def checkpoint_accuracy(session, epoch, on_progress=None, cancel=None):
    """Train and test accuracy of the full model at every stored checkpoint, from the weights.

    Computed here, lazily, rather than when a file is imported: at p = 113 one checkpoint takes
    20–30 ms (quiet 2-core VM; 100–400 ms busy; all p² inputs, :mod:`grokviz.core.importers.evaluate`),
    so a 250-checkpoint file would load 6–60 s slower; the app runs this report in a worker once
    the run is open, and the session keeps the result."""
    from grokviz.analysis.phases import is_loss_only
    from grokviz.core.importers.evaluate import checkpoint_accuracies

    def each(done, total, at_epoch):
        if on_progress is not None:
            on_progress(done / max(total, 1), f"Accuracy at checkpoint {at_epoch:,} ({done}/{total})")

    run = session.run
    values, notes = checkpoint_accuracies(run, on_each=each, cancel=cancel)
    if len(values) < len(run.epochs):
        raise ReportCancelled("checkpoint accuracies cancelled")
    epochs = sorted(values)
    return CheckpointAccuracy(epochs, [values[e][0] for e in epochs], [values[e][1] for e in epochs],
                              recorded=not is_loss_only(run.history), notes=notes)
