"""A run's summary: its facts (task, model, split, final metrics, grokked epoch) and key frequencies."""

from __future__ import annotations

from grokviz.analysis.reports import report


@report("summary", "Run summary", per_checkpoint=False)
def summary(session, epoch):
    """``Run.summary()`` plus the run's key frequencies (None, with a note, when they cannot be computed)."""
    from grokviz.analysis.reports.key_frequencies import run_key_frequencies

    facts = session.run.summary()
    try:
        facts["key_freqs"] = run_key_frequencies(session)
    except Exception as error:  # noqa: BLE001 - a summary without key frequencies is still useful
        facts["key_freqs"] = None
        facts["notes"] = list(facts["notes"]) + [f"key frequencies unavailable: {error}"]
    return facts
