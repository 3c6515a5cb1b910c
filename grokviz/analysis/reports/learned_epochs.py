"""When each input is learned (design.md §6b): per input, the epoch from which it stays correct."""

from __future__ import annotations

from grokviz.analysis.reports import report


@report("learned_epochs", "When each input is learned", per_checkpoint=False)
def learned_epochs(session, epoch, on_progress=None, cancel=None):
    """Per (a, b), the first stored epoch from which it is predicted correctly at every later checkpoint."""
    from grokviz.analysis.learned_epochs import learned_epochs as compute

    result = compute(session.run, on_progress, cancel)
    if result is None:
        from grokviz.analysis.reports import ReportCancelled

        raise ReportCancelled("learned epochs cancelled")
    return result
