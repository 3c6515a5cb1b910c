"""Stored-epoch arithmetic: the stored checkpoint nearest an epoch, and which checkpoint of one run
pairs with a checkpoint of another (no Qt; used by the app state, the comparison's epoch link
:class:`~grokviz.gui.compare.link.EpochLink` and ``grokviz export A B --pair``).

Two ways to pair epochs (:data:`MODES`):

* ``"epoch"`` — the same epoch: the target run's stored checkpoint nearest the source's epoch;
* ``"fraction"`` — the same fraction of training: source epoch / source's last epoch, times the
  target's last epoch, snapped to the target's nearest stored checkpoint (so a 2 000-epoch run and
  a 20 000-epoch run are compared at the same stage).
"""

from __future__ import annotations

import bisect

MODES = ("epoch", "fraction")
MODE_LABELS = {"epoch": "same epoch", "fraction": "same fraction of training"}


def nearest_stored(epochs, epoch) -> int | None:
    """The stored epoch nearest ``epoch`` in ascending ``epochs`` (ties: the earlier); None if there are none."""
    if not epochs:
        return None
    epoch = float(epoch)
    i = bisect.bisect_left(epochs, epoch)
    candidates = epochs[max(i - 1, 0): i + 1]
    return int(min(candidates, key=lambda e: (abs(e - epoch), e)))


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    return mode


def fraction_of(epochs, epoch) -> float | None:
    """``epoch`` as a fraction of the training that ends at the last of ascending ``epochs``."""
    if not epochs or epoch is None:
        return None
    return float(epoch) / epochs[-1] if epochs[-1] > 0 else 0.0


def paired_epoch(mode: str, source, target, epoch) -> int | None:
    """The stored epoch of ascending ``target`` paired with ``epoch`` of ascending ``source`` by
    ``mode`` (see the module doc); None if either run has no epochs."""
    check_mode(mode)
    if not source or not target or epoch is None:
        return None
    if mode == "epoch":
        return nearest_stored(target, epoch)
    return nearest_stored(target, fraction_of(source, epoch) * target[-1])
