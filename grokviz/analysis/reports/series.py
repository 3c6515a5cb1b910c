"""Run-wide series built from a per-checkpoint report (a helper of the reports here; registers none)."""

from __future__ import annotations


def over_checkpoints(session, name, epochs, on_progress=None, cancel=None, **options) -> list:
    """``session.report(name, e, **options)`` for each epoch in ``epochs`` (cached per epoch)."""
    from grokviz.analysis.reports import ReportCancelled

    values = []
    for done, epoch in enumerate(epochs):
        if cancel is not None and cancel():
            raise ReportCancelled(f"{name} over checkpoints cancelled")
        values.append(session.report(name, epoch, **options))
        if on_progress is not None:
            on_progress((done + 1) / len(epochs), f"{name}: epoch {epoch} ({done + 1}/{len(epochs)})")
    return values
