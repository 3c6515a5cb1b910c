"""Which checkpoint of run B goes with which checkpoint of run A (Qt-free, psygnal; like the Explorer's model).

Two ways to pair epochs (:data:`MODES`):

* ``"epoch"`` — the same epoch: B's stored checkpoint nearest to A's epoch;
* ``"fraction"`` — the same fraction of training: A's epoch / A's last epoch, times B's last epoch,
  snapped to B's nearest stored checkpoint (so a 2 000-epoch run and a 20 000-epoch run are compared
  at the same stage).

Both directions use the same rule (B → A swaps the roles). :class:`EpochLink` also holds whether the
two sides are linked (one slider moves both) and the epoch each side shows; moving one side
(:meth:`EpochLink.set_epoch`) emits ``epoch_changed(other side, epoch)`` when linked. Because the
link snaps to stored epochs itself, the echo of its own move (the other side's state reporting the
epoch it was sent) changes nothing, so two states bound both ways never ping-pong.
"""

from __future__ import annotations

from psygnal import Signal

from grokviz.gui.epochs import nearest_stored

MODES = ("epoch", "fraction")
MODE_LABELS = {"epoch": "same epoch", "fraction": "same fraction of training"}
SIDES = ("a", "b")


def _other(side: str) -> str:
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, not {side!r}")
    return "b" if side == "a" else "a"


class EpochLink:
    """The pairing of two runs' checkpoints. Events: ``epoch_changed(side, epoch)`` — ``side`` should
    now show ``epoch`` (one of its stored epochs); ``linked_changed(bool)``; ``mode_changed(str)``."""

    epoch_changed = Signal(str, int)
    linked_changed = Signal(bool)
    mode_changed = Signal(str)

    def __init__(self, mode: str = "epoch", linked: bool = True):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.mode = mode
        self.linked = bool(linked)
        self.epochs: dict = {"a": [], "b": []}
        self.current: dict = {"a": None, "b": None}

    # -- runs ------------------------------------------------------------------------------
    def set_epochs(self, side: str, epochs) -> int | None:
        """The stored epochs of ``side``'s (new) run (empty: no run). When linked, the new run is paired
        with the other side's current epoch: that partner is returned and recorded as shown (open the run
        there); unlinked (or with nothing to pair with) None is returned and nothing is recorded."""
        other = _other(side)
        self.epochs[side] = sorted(int(e) for e in epochs or ())
        self.current[side] = self.map(other, self.current[other]) if self.linked else None
        return self.current[side]

    # -- mapping -----------------------------------------------------------------------------
    def map(self, side: str, epoch) -> int | None:
        """The other side's stored epoch paired with ``side`` at ``epoch`` (None if either has no epochs)."""
        source, target = self.epochs[side], self.epochs[_other(side)]
        if not source or not target or epoch is None:
            return None
        if self.mode == "epoch":
            return nearest_stored(target, epoch)
        fraction = float(epoch) / source[-1] if source[-1] > 0 else 0.0
        return nearest_stored(target, fraction * target[-1])

    def fraction(self, side: str, epoch=None) -> float | None:
        """``epoch`` (default: the one shown) as a fraction of ``side``'s training."""
        epochs = self.epochs[side]
        epoch = self.current[side] if epoch is None else epoch
        if not epochs or epoch is None:
            return None
        return float(epoch) / epochs[-1] if epochs[-1] > 0 else 0.0

    # -- state -------------------------------------------------------------------------------
    def set_epoch(self, side: str, epoch) -> None:
        """``side`` now shows ``epoch``; when linked, the other side follows (``epoch_changed``)."""
        _other(side)
        epoch = None if epoch is None else int(epoch)
        if epoch == self.current[side]:
            return
        self.current[side] = epoch
        if self.linked:
            self._follow(side)

    def _follow(self, side: str) -> None:
        other = _other(side)
        target = self.map(side, self.current[side])
        if target is not None and target != self.current[other]:
            self.current[other] = target
            self.epoch_changed.emit(other, target)

    def set_linked(self, linked: bool) -> None:
        """Link (B moves to the epoch paired with A's) or unlink (each side keeps its own slider)."""
        linked = bool(linked)
        if linked == self.linked:
            return
        self.linked = linked
        self.linked_changed.emit(linked)
        if linked:
            self._follow("a")

    def set_mode(self, mode: str) -> None:
        """Pair by ``"epoch"`` or ``"fraction"``; when linked, B moves to its new partner of A's epoch."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if mode == self.mode:
            return
        self.mode = mode
        self.mode_changed.emit(mode)
        if self.linked:
            self._follow("a")
