"""Symmetry along the forward pass (design.md §6 "Symmetry points", "c/2 cosine model", §6a): one
implementation for the Symmetry tab, ``grokviz analyze`` and the exported figure."""

from __future__ import annotations

import math
from dataclasses import dataclass

from grokviz.analysis.reports import report


@dataclass(frozen=True)
class SymmetryReport:
    """Per hook (forward order, then ``logits``) at ``position``, in the task's coordinates (§6a).

    ``score``: operand-swap symmetry corr(x(a, b), x(b, a)) (:func:`grokviz.analysis.symmetry.
    swap_symmetry_score`; for add the [c, a] vs [c, c − a] score). NaN = constant over the inputs
    (``constant``) or, for every hook, ``defined`` False: the task is not swap-symmetric
    (``reason``). ``explained``: the variance the c/2 model explains on the run's key frequencies,
    in coordinates (:func:`~grokviz.analysis.symmetry.fit_c2_task`). ``ragged``/``note``: whether
    the task's maps are many-to-one (tokens group).
    """

    position: str
    hooks: list
    score: list
    explained: list
    constant: list
    ragged: bool
    note: str
    key_freqs: list
    defined: bool = True
    reason: str = ""

    def scores(self) -> dict:
        return dict(zip(self.hooks, self.score))

    def explained_by_hook(self) -> dict:
        return dict(zip(self.hooks, self.explained))


@report("symmetry", "Symmetry about a = c/2 per hook")
def symmetry(session, epoch, position: str = "=", hooks: tuple | None = None):
    """Symmetry score and c/2-model variance explained per hook at ``position`` ([c, a] layout).

    ``hooks``: a subset (default: every cached hook in forward order, then ``logits``)."""
    from grokviz.analysis.cache import CACHE_NAMES
    from grokviz.analysis.reports.key_frequencies import run_key_frequencies
    from grokviz.analysis.symmetry import hook_c2_r2, hook_constant, hook_symmetry, symmetry_definition
    from grokviz.core.coordinates import gcd_note

    hooks = list(CACHE_NAMES if hooks is None else hooks)
    keys = run_key_frequencies(session)
    note = gcd_note(session.task)
    definition = symmetry_definition(session.task)
    scores = hook_symmetry(session, session.task, hooks, epoch, position=position)
    if definition["defined"]:
        constant = [not math.isfinite(scores[h]) for h in hooks]
    else:  # no score at all: constancy from the activations themselves
        flat = hook_constant(session, hooks, epoch, position)
        constant = [flat[h] for h in hooks]
    fits = hook_c2_r2(session, session.task, keys, [h for h, c in zip(hooks, constant) if not c], epoch,
                      position=position)
    explained = [fits.get(h, float("nan")) for h in hooks]
    return SymmetryReport(position, hooks, [scores[h] for h in hooks], explained, constant, bool(note), note, keys,
                          definition["defined"], definition["reason"])
