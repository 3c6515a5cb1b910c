"""Symmetry along the forward pass (design.md §6 "Symmetry points", "c/2 cosine model"): one implementation
for the Symmetry tab, ``grokviz analyze`` and the exported figure."""

from __future__ import annotations

import math
from dataclasses import dataclass

from grokviz.analysis.reports import report


@dataclass(frozen=True)
class SymmetryReport:
    """Per hook (forward order, then ``logits``) at ``position`` in the [c, a] layout.

    ``score``: :func:`grokviz.analysis.symmetry.symmetry_score` (NaN = constant over the inputs:
    ``constant``). ``explained``: the variance the c/2 model explains on the run's key
    frequencies (:func:`~grokviz.analysis.symmetry.fit_c2_model`); NaN where the score is undefined
    or the [c, a] grid is ragged (``note`` says why).
    """

    position: str
    hooks: list
    score: list
    explained: list
    constant: list
    ragged: bool
    note: str
    key_freqs: list

    def scores(self) -> dict:
        return dict(zip(self.hooks, self.score))

    def explained_by_hook(self) -> dict:
        return dict(zip(self.hooks, self.explained))


@report("symmetry", "Symmetry about a = c/2 per hook")
def symmetry(session, epoch, position: str = "=", hooks: tuple | None = None):
    """Symmetry score and c/2-model variance explained per hook at ``position`` ([c, a] layout).

    ``hooks``: a subset (default: every cached hook in forward order, then ``logits``)."""
    from grokviz.analysis.cache import CACHE_NAMES
    from grokviz.analysis.reorder import layout_note
    from grokviz.analysis.reports.key_frequencies import run_key_frequencies
    from grokviz.analysis.symmetry import hook_c2_r2, hook_symmetry

    hooks = list(CACHE_NAMES if hooks is None else hooks)
    keys = run_key_frequencies(session)
    note = layout_note(session.task, "ca")
    scores = hook_symmetry(session, session.task, hooks, epoch, position=position)
    constant = [not math.isfinite(scores[h]) for h in hooks]
    if note:
        explained = [float("nan")] * len(hooks)
    else:
        fits = hook_c2_r2(session, session.task, keys, [h for h, c in zip(hooks, constant) if not c], epoch,
                          position=position)
        explained = [fits.get(h, float("nan")) for h in hooks]
    return SymmetryReport(position, hooks, [scores[h] for h in hooks], explained, constant, bool(note), note, keys)
