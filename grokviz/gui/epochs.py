"""Stored-epoch arithmetic shared by the app state and the comparison's epoch link (no Qt)."""

from __future__ import annotations

import bisect


def nearest_stored(epochs, epoch) -> int | None:
    """The stored epoch nearest ``epoch`` in ascending ``epochs`` (ties: the earlier); None if there are none."""
    if not epochs:
        return None
    epoch = float(epoch)
    i = bisect.bisect_left(epochs, epoch)
    candidates = epochs[max(i - 1, 0): i + 1]
    return int(min(candidates, key=lambda e: (abs(e - epoch), e)))
