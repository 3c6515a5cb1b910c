"""Run-wide series built from a per-checkpoint report: one value per (evenly spread) stored epoch."""

from __future__ import annotations


def spread_epochs(epochs, limit):
    """At most ``limit`` of ``epochs``, evenly spread, always keeping the first and the last."""
    import numpy as np

    epochs = list(epochs)
    if limit is None or len(epochs) <= limit:
        return epochs
    picks = np.unique(np.round(np.linspace(0, len(epochs) - 1, limit)).astype(int))
    return [epochs[i] for i in picks]


def over_checkpoints(session, name, epochs, on_progress=None, cancel=None, **options) -> list:
    """``session.report(name, e, **options)`` for each epoch in ``epochs`` (cached per epoch)."""
    try:
        from grokviz.analysis.reports import ReportCancelled
    except ImportError:  # the registry before cancellable reports
        ReportCancelled = RuntimeError

    values = []
    for done, epoch in enumerate(epochs):
        if cancel is not None and cancel():
            raise ReportCancelled(f"{name} over checkpoints cancelled")
        values.append(session.report(name, epoch, **options))
        if on_progress is not None:
            on_progress((done + 1) / len(epochs), f"{name}: epoch {epoch} ({done + 1}/{len(epochs)})")
    return values
