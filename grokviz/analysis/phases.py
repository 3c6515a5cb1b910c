"""Training phases from the history and the progress measures (design.md §6–§7).

* ``memorised_epoch`` — end of memorisation: first evaluation with train accuracy ≥ 99 %.
* ``grokked_epoch`` — grokking: first evaluation with test accuracy ≥ 99 %.
* ``cleanup_end_epoch`` — end of clean-up, from the progress measures: the first checkpoint at
  or after grokking where (1) the test loss has caught up with the restricted loss to within
  an order of magnitude (test_loss ≤ 10 × restricted_loss: the memorising components no
  longer cost the model much on unseen inputs beyond the key-frequency circuit alone), and
  (2) the total weight norm (Σθ²), which weight decay drives down while it removes the
  memorisation, has flattened: it falls by less than 5 % over the next window
  (max(1000 epochs, 5 % of the run)). None when no checkpoint qualifies (e.g. the run
  stopped during clean-up). On the 25k-epoch default-recipe run (grokked at 13,260) this
  gives 17,000 (test loss 6.9e-7 vs restricted 7.5e-8; the weight norm falls 2,061 → 1,003
  between 12k and 17k, then < 5 % per window).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from grokviz.core.history import GROKKED_ACCURACY

CATCH_UP_FACTOR = 10.0
NORM_FLAT = 0.05


@dataclass(frozen=True)
class Phases:
    memorised_epoch: int | None
    grokked_epoch: int | None
    cleanup_end_epoch: int | None
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"memorised_epoch": self.memorised_epoch, "grokked_epoch": self.grokked_epoch,
                "cleanup_end_epoch": self.cleanup_end_epoch, "notes": list(self.notes)}


def _first(epochs, values, threshold):
    hits = np.nonzero(np.asarray(values) >= threshold)[0]
    return int(epochs[hits[0]]) if len(hits) else None


def cleanup_end(progress, grokked_epoch: int | None) -> int | None:
    """End of clean-up from a :class:`ProgressTable` (definition in the module docstring)."""
    if grokked_epoch is None or progress is None or len(progress.epochs) == 0:
        return None
    epochs = np.asarray(progress.epochs)
    test = progress.columns["test_loss"]
    restricted = progress.columns["restricted_loss"]
    norm = progress.columns["weight_norm"]
    window = max(1000, 0.05 * (epochs[-1] - epochs[0]))
    for i, epoch in enumerate(epochs):
        if epoch < grokked_epoch or not test[i] <= CATCH_UP_FACTOR * restricted[i]:
            continue
        later = np.nonzero(epochs >= epoch + window)[0]
        j = later[0] if len(later) else len(epochs) - 1
        if (norm[i] - norm[j]) / max(norm[i], 1e-300) < NORM_FLAT:
            return int(epoch)
    return None


def detect_phases(history, progress=None, accuracy: float = GROKKED_ACCURACY) -> Phases:
    """Phase boundaries (epochs) of a run's history (+ progress measures for the clean-up end)."""
    notes = []
    epochs = np.asarray(history.epoch)
    memorised = _first(epochs, history.train_acc, accuracy)
    grokked = _first(epochs, history.test_acc, accuracy)
    end = cleanup_end(progress, grokked)
    if progress is None:
        notes.append("end of clean-up needs the progress measures")
    elif grokked is not None and end is None:
        notes.append("clean-up has not ended by the last checkpoint")
    return Phases(memorised, grokked, end, notes)
