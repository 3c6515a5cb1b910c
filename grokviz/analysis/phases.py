"""Training phases from the history and the progress measures (design.md §6, §6b, §7).

Two kinds of history (``basis`` says which one a result rests on):

* **accuracy** — train/test accuracy at (nearly) every evaluation (grokviz's own runs):
  ``memorised_epoch`` (end of memorisation) is the first evaluation with train accuracy ≥ 99 %,
  ``grokked_epoch`` the first with test accuracy ≥ 99 %.
* **loss bound** — losses only, accuracies at a few stored checkpoints at most (Nanda's format:
  a train loss every epoch, a test loss every 10): ``memorised_epoch`` is the test-loss peak (the
  progress-measures paper's definition), and ``grokked_epoch`` is an upper bound ("grokked by"):
  the first evaluation whose mean test cross-entropy is below 0.01·ln 2. An input counted wrong
  has p_correct ≤ ½ and so adds ≥ ln 2 / N to the mean; a mean below 0.01·ln 2 therefore leaves
  under 1 % of the test inputs wrong, i.e. test accuracy ≥ 99 %. An accuracy ≥ 99 % the history
  holds before that bound (not at its last row: that would put grokking at the last checkpoint
  for lack of data) gives the bound instead (``basis`` "checkpoint accuracy"). Imported files'
  histories hold the final weights' accuracy only; the accuracies at every stored checkpoint are
  the ``checkpoint_accuracy`` report's (computed on demand, drawn as points), not used here, so
  these phases cost nothing beyond the history.

``cleanup_end_epoch`` — end of clean-up, from the progress measures: the first checkpoint at
or after grokking where (1) the test loss has caught up with the restricted loss to within
an order of magnitude (test_loss ≤ 10 × restricted_loss: the memorising components no
longer cost the model much on unseen inputs beyond the key-frequency circuit alone), and
(2) the total weight norm (Σθ²), which weight decay drives down while it removes the
memorisation, has flattened: it falls by less than 5 % over the next window
(max(1000 epochs, 5 % of the run)), measured against a checkpoint that really lies a window
later — never at the last checkpoint for lack of data. None when no checkpoint qualifies
(e.g. the run stopped during clean-up), and "unknown: needs checkpoints" when there are fewer
than :data:`MIN_CHECKPOINTS` checkpoints from grokking on. On the 25k-epoch default-recipe run
(grokked at 13,260) this gives 17,000 (test loss 6.9e-7 vs restricted 7.5e-8; the weight norm
falls 2,061 → 1,003 between 12k and 17k, then < 5 % per window).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from grokviz.core.history import GROKKED_ACCURACY

CATCH_UP_FACTOR = 10.0
NORM_FLAT = 0.05
LOSS_BOUND = 0.01 * math.log(2)  # mean test CE below this ⇒ test accuracy ≥ 99 % (module docstring)
MIN_CHECKPOINTS = 3  # checkpoints from grokking on that the clean-up end needs
ACCURACY_COVERAGE = 0.5  # accuracies at fewer than this share of the loss evaluations: a loss-only history

NEEDS_CHECKPOINTS = "unknown: needs checkpoints"


@dataclass(frozen=True)
class Phases:
    memorised_epoch: int | None
    grokked_epoch: int | None
    cleanup_end_epoch: int | None
    notes: list = field(default_factory=list)
    basis: str = "accuracy"
    cleanup_status: str = ""

    def to_dict(self) -> dict:
        return {"memorised_epoch": self.memorised_epoch, "grokked_epoch": self.grokked_epoch,
                "cleanup_end_epoch": self.cleanup_end_epoch, "notes": list(self.notes), "basis": self.basis,
                "cleanup_status": self.cleanup_status}

    def summary(self) -> dict:
        """The form ``grokviz info --json`` prints: ``memorisation_end``, ``grokked_epoch``,
        ``cleanup_end`` (an epoch, None, or :data:`NEEDS_CHECKPOINTS`) and ``basis``."""
        cleanup = self.cleanup_end_epoch
        if cleanup is None and self.cleanup_status == NEEDS_CHECKPOINTS:
            cleanup = NEEDS_CHECKPOINTS
        return {"memorisation_end": self.memorised_epoch, "grokked_epoch": self.grokked_epoch,
                "cleanup_end": cleanup, "basis": self.basis, "notes": list(self.notes)}


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
        if not len(later):  # no checkpoint a window later: flatness cannot be judged
            break
        j = later[0]
        if (norm[i] - norm[j]) / max(norm[i], 1e-300) < NORM_FLAT:
            return int(epoch)
    return None


def is_loss_only(history) -> bool:
    """True when accuracies are known at under half the evaluations that have a test loss."""
    test_loss = np.asarray(history.test_loss, dtype=float)
    test_acc = np.asarray(history.test_acc, dtype=float)
    with_loss = int(np.isfinite(test_loss).sum())
    return with_loss > 0 and int(np.isfinite(test_acc).sum()) < ACCURACY_COVERAGE * with_loss


def loss_bound_phases(history) -> tuple:
    """(memorisation end = test-loss peak, grokked-by epoch, basis) of a loss-only history."""
    epochs = np.asarray(history.epoch)
    test_loss = np.asarray(history.test_loss, dtype=float)
    finite = np.isfinite(test_loss)
    memorised = None
    if finite.any():
        peak = int(np.nanargmax(np.where(finite, test_loss, -np.inf)))
        memorised = int(epochs[peak]) if peak > int(np.argmax(finite)) else None
    start = memorised if memorised is not None else (int(epochs[0]) if len(epochs) else 0)
    below = np.nonzero(finite & (epochs >= start) & (np.where(finite, test_loss, np.inf) < LOSS_BOUND))[0]
    by_loss = int(epochs[below[0]]) if len(below) else None
    by_checkpoint = _first(epochs, np.nan_to_num(np.asarray(history.test_acc, dtype=float), nan=-1.0), GROKKED_ACCURACY)
    if by_checkpoint is not None and len(epochs) and by_checkpoint == int(epochs[-1]):
        by_checkpoint = None  # only the final weights say so: no epoch, rather than a line at the end
    if by_checkpoint is not None and (by_loss is None or by_checkpoint < by_loss):
        return memorised, by_checkpoint, "checkpoint accuracy"
    return memorised, by_loss, "loss bound"


def detect_phases(history, progress=None, accuracy: float = GROKKED_ACCURACY, checkpoint_epochs=None) -> Phases:
    """Phase boundaries (epochs) of a run's history (+ progress measures for the clean-up end).

    ``checkpoint_epochs`` (the run's stored checkpoints) lets a caller without progress measures
    learn that there are too few checkpoints for a clean-up end at all.
    """
    notes = []
    epochs = np.asarray(history.epoch)
    if is_loss_only(history):
        memorised, grokked, basis = loss_bound_phases(history)
        notes.append("losses-only history: memorisation ends at the test-loss peak; grokked by = first mean test "
                     "loss < 0.01·ln 2, a bound that implies test accuracy ≥ 99 %")
        if memorised is None:
            notes.append("the test loss has no peak after the first evaluation: end of memorisation unknown")
    else:
        basis = "accuracy"
        memorised = _first(epochs, history.train_acc, accuracy)
        grokked = _first(epochs, history.test_acc, accuracy)
    status = ""
    stored = progress.epochs if progress is not None else checkpoint_epochs
    checkpoints_after = None if stored is None or grokked is None else int((np.asarray(stored) >= grokked).sum())
    if checkpoints_after is not None and checkpoints_after < MIN_CHECKPOINTS:
        end, status = None, NEEDS_CHECKPOINTS
        notes.append(f"end of clean-up {NEEDS_CHECKPOINTS} ({checkpoints_after} from grokking on, "
                     f"{MIN_CHECKPOINTS} needed)")
    else:
        end = cleanup_end(progress, grokked)
        if progress is None:
            notes.append("end of clean-up needs the progress measures (grokviz analyze --progress)")
            status = "needs the progress measures"
        elif grokked is not None and end is None:
            notes.append("clean-up has not ended by the last checkpoint")
            status = "not ended by the last checkpoint"
    return Phases(memorised, grokked, end, notes, basis, status)
