"""Phases of grokking (design.md §6–§7): memorisation, circuit formation, clean-up."""

from __future__ import annotations

from grokviz.analysis.reports import report


@report("phases", "Phases of grokking", per_checkpoint=False)
def phases(session, epoch, with_progress: bool = True, max_checkpoints: int | None = None, on_progress=None,
           cancel=None):
    """Memorised / grokked epochs from the history; the end of clean-up from the ``progress`` report
    (left out, with a note, when ``with_progress`` is False)."""
    from grokviz.analysis.phases import detect_phases

    table = None
    if with_progress:
        table = session.report("progress", max_checkpoints=max_checkpoints, on_progress=on_progress,
                               cancel=cancel).table
    return detect_phases(session.run.history, table)
