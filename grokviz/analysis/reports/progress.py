"""Progress measures (design.md §6, Nanda et al.): at one checkpoint ("measures") and over the run ("progress")."""

from __future__ import annotations

from dataclasses import dataclass

from grokviz.analysis.reports import ReportCancelled, report


def subsample_epochs(epochs, limit):
    """At most ``limit`` of ``epochs``, evenly spread, always keeping the first and the last."""
    import numpy as np

    epochs = list(epochs)
    if limit is None or len(epochs) <= limit:
        return epochs
    picks = np.unique(np.round(np.linspace(0, len(epochs) - 1, limit)).astype(int))
    return [epochs[i] for i in picks]


@report("measures", "Progress measures at one checkpoint")
def measures(session, epoch):
    """Restricted / excluded / train / test loss, cos-coefficients, weight norms and Gini at ``epoch``."""
    from grokviz.analysis.progress import ProgressSetup, measure_model, stored_measures
    from grokviz.analysis.reports.key_frequencies import run_key_frequencies

    keys = run_key_frequencies(session)
    stored = stored_measures(session.run, keys).get(int(epoch))  # measured while training
    if stored is not None:
        return stored
    train_rows, test_rows = session.run.indices()
    setup = ProgressSetup.build(session.task, train_rows, test_rows, keys)
    return measure_model(setup, session.model(epoch))


@dataclass(frozen=True)
class ProgressReport:
    """The measures at ``table.epochs`` (a :class:`~grokviz.analysis.progress.ProgressTable`:
    columns per measure, ``cos_coeffs`` [checkpoint, k = 1 … p//2], ``excluded_loss_per_freq``
    [checkpoint, key frequency]) on the run's key frequencies."""

    key_freqs: list
    table: object

    def records(self) -> list:
        return self.table.records()


@report("progress", "Progress measures over checkpoints", per_checkpoint=False)
def progress(session, epoch, max_checkpoints: int | None = None, on_progress=None, cancel=None):
    """Every measure of the ``measures`` report over (at most ``max_checkpoints``, evenly spread) checkpoints.

    Measures stored with the run (computed while it trained, :mod:`grokviz.analysis.live`) are
    read, not recomputed (:func:`~grokviz.analysis.progress.progress_measures`)."""
    from grokviz.analysis.progress import progress_measures
    from grokviz.analysis.reports.key_frequencies import run_key_frequencies

    keys = run_key_frequencies(session)
    epochs = subsample_epochs(session.epochs, max_checkpoints)

    def step(done, total, at_epoch):
        if on_progress is not None:
            on_progress(done / max(total, 1), f"Progress measures: epoch {at_epoch} ({done}/{total})")

    table = progress_measures(session.run, epochs, keys, on_progress=step, cancel=cancel)
    if not table.complete:
        raise ReportCancelled("progress measures cancelled")
    return ProgressReport(keys, table)
