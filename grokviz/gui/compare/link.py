"""Which checkpoint of run B goes with which checkpoint of run A (Qt-free, psygnal; like the Explorer's model).

The two ways to pair epochs (same epoch, same fraction of training) are
:func:`grokviz.core.epochs.paired_epoch`'s, which ``grokviz export A B --pair`` uses too; both
directions use the same rule (B → A swaps the roles). :class:`EpochLink` also holds whether the
two sides are linked (one slider moves both) and the epoch each side shows; moving one side
(:meth:`EpochLink.set_epoch`) emits ``epoch_changed(other side, epoch)`` when linked. Because the
link snaps to stored epochs itself, the echo of its own move (the other side's state reporting the
epoch it was sent) changes nothing, so two states bound both ways never ping-pong.
"""

from __future__ import annotations

from psygnal import Signal

from grokviz.core.epochs import check_mode, fraction_of, paired_epoch

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
        self.mode = check_mode(mode)
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
        return paired_epoch(self.mode, self.epochs[side], self.epochs[_other(side)], epoch)

    def fraction(self, side: str, epoch=None) -> float | None:
        """``epoch`` (default: the one shown) as a fraction of ``side``'s training."""
        return fraction_of(self.epochs[side], self.current[side] if epoch is None else epoch)

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
        if check_mode(mode) == self.mode:
            return
        self.mode = mode
        self.mode_changed.emit(mode)
        if self.linked:
            self._follow("a")
