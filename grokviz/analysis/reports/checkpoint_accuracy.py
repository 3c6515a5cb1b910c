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
    the run is open, and the session keeps the result. Values stored with the run (the run file's
    ``checkpoint_accuracy`` entry: ``grokviz convert``, or a save after this report ran) are read
    instead for every checkpoint whose weights they describe (:mod:`grokviz.core.stored_accuracy`);
    the others are computed and kept on the run, so saving it stores them."""
    from grokviz.analysis.phases import is_loss_only
    from grokviz.core import stored_accuracy
    from grokviz.core.importers.evaluate import checkpoint_accuracies

    def each(done, total, at_epoch):
        if on_progress is not None:
            on_progress(done / max(total, 1), f"Accuracy at checkpoint {at_epoch:,} ({done}/{total})")

    run = session.run
    stored = run.checkpoint_accuracy
    values, fingerprints = stored_accuracy.matching(stored, run)
    notes = list(stored["notes"]) if values else []
    missing = [e for e in run.epochs if e not in values]
    if missing:
        computed, notes = checkpoint_accuracies(run, missing, on_each=each, cancel=cancel)
        if len(computed) < len(missing):
            raise ReportCancelled("checkpoint accuracies cancelled")
        values.update(computed)
        fingerprints.update({e: stored_accuracy.fingerprint(run.state_dict(e)) for e in computed})  # the matched have theirs
        run.checkpoint_accuracy = stored_accuracy.make_entry(values, fingerprints, notes)
    epochs = sorted(values)
    return CheckpointAccuracy(epochs, [values[e][0] for e in epochs], [values[e][1] for e in epochs],
                              recorded=not is_loss_only(run.history), notes=notes)


def keep_for_saving(session, on_progress=None, cancel=None) -> None:
    """Before a losses-only run is saved (``grokviz convert``, the app's Save as…): its checkpoint
    accuracies, computed (or read) by the report and kept on the run, so the file stores them.
    Runs whose history records accuracies need none."""
    from grokviz.analysis.phases import is_loss_only

    if is_loss_only(session.run.history):
        session.report("checkpoint_accuracy", on_progress=on_progress, cancel=cancel)
