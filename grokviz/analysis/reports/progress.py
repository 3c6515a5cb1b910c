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
    """The measures at ``table.epochs`` (a :class:`~grokviz.analysis.progress_table.ProgressTable`:
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


def read_stored(path, max_checkpoints: int | None = None) -> ProgressReport | None:
    """The ``progress`` report read from a grokviz run file's stored records, without loading the
    run or importing torch (:mod:`grokviz.core.quickread`): ``grokviz analyze RUN --report progress``
    on a run that measured itself while training returns in well under a second.

    The same value as the report: the run's key frequencies are those its final checkpoint's record
    was taken at (:mod:`grokviz.analysis.live` measures the final weights' key frequencies with the
    report's rule, and re-measures every checkpoint at them when the run finishes). None — compute
    the report instead — unless every wanted checkpoint has a record at those frequencies under the
    current definition (:func:`~grokviz.analysis.progress_table.matching_records`)."""
    from grokviz.analysis.progress_table import matching_records, table_from_records
    from grokviz.core.quickread import read_preview

    preview = read_preview(path)
    if preview is None or not preview.progress:
        return None
    final = {r["epoch"]: r for r in preview.progress}.get(preview.epochs_trained)
    if final is None:
        return None
    try:
        keys = [int(k) for k in final["key_freqs"]]
        stored = matching_records(preview.progress, keys)
        epochs = subsample_epochs(preview.epochs, max_checkpoints)
        if not all(epoch in stored for epoch in epochs):
            return None
        rows = [stored[epoch] for epoch in epochs]
        return ProgressReport(keys, table_from_records(keys, epochs, rows, len(rows[0]["cos_coeffs"])))
    except (KeyError, TypeError, ValueError):  # records not in the shape measured: compute the report
        return None
