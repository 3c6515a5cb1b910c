"""A run's summary: its facts (task, model, split, final metrics, grokked epoch) and key frequencies."""

from __future__ import annotations

from grokviz.analysis.reports import report


@report("summary", "Run summary", per_checkpoint=False)
def summary(session, epoch):
    """``Run.summary()`` plus the run's key frequencies (None, with a note, when they cannot be computed)
    and learned token basis (``token_basis``: best ordering and concentrations per operand) and its phases (``memorisation_end``, ``grokked_epoch``, ``cleanup_end``, ``basis``: the ``phases``
    report without progress measures); ``grokked_epoch`` is the phases' (a bound for losses-only files)."""
    from grokviz.analysis.reports.key_frequencies import run_key_frequencies

    facts = session.run.summary()
    try:
        facts["key_freqs"] = run_key_frequencies(session)
    except Exception as error:  # noqa: BLE001 - a summary without key frequencies is still useful
        facts["key_freqs"] = None
        facts["notes"] = list(facts["notes"]) + [f"key frequencies unavailable: {error}"]
    try:
        basis = session.report("token_basis", None)
        facts["token_basis"] = {operand: {"best": found.best, "concentration": found.concentration}
                                for operand, found in basis.items()}
    except Exception as error:  # noqa: BLE001 - as for the key frequencies
        facts["token_basis"] = None
        facts["notes"] = list(facts["notes"]) + [f"token basis unavailable: {error}"]
    phases = session.report("phases", with_progress=False).summary()
    facts["phases"] = phases
    facts["grokked_epoch"] = phases["grokked_epoch"]
    return facts
