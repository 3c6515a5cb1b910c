"""Training history: one row per evaluation (epoch, train/test loss, train/test accuracy)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

COLUMNS = ("epoch", "train_loss", "test_loss", "train_acc", "test_acc")
# Grokked (test) / memorised (train): the first evaluation with accuracy ≥ 99 % (design.md §7). The one
# threshold every phase boundary uses (core.run, analysis.phases, the Training tab).
GROKKED_ACCURACY = 0.99


@dataclass
class History:
    """Columns as numpy arrays of equal length; accuracies may be NaN where unknown."""

    epoch: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    train_loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    test_loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    train_acc: np.ndarray = field(default_factory=lambda: np.zeros(0))
    test_acc: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __len__(self) -> int:
        return len(self.epoch)

    @classmethod
    def from_columns(cls, **columns) -> "History":
        arrays = {name: np.asarray(columns.get(name, []), dtype=np.int64 if name == "epoch" else np.float64) for name in COLUMNS}
        lengths = {len(v) for v in arrays.values()}
        if len(lengths) > 1:
            raise ValueError(f"history columns differ in length: { {k: len(v) for k, v in arrays.items()} }")
        return cls(**arrays)

    def append(self, epoch: int, train_loss: float, test_loss: float, train_acc: float, test_acc: float) -> None:
        self.epoch = np.append(self.epoch, np.int64(epoch))
        self.train_loss = np.append(self.train_loss, train_loss)
        self.test_loss = np.append(self.test_loss, test_loss)
        self.train_acc = np.append(self.train_acc, train_acc)
        self.test_acc = np.append(self.test_acc, test_acc)

    def truncate(self, last_epoch: int) -> "History":
        keep = self.epoch <= last_epoch
        return History(*(getattr(self, name)[keep] for name in COLUMNS))

    def last(self) -> dict:
        if not len(self):
            return {name: None for name in COLUMNS}
        return {name: (int(getattr(self, name)[-1]) if name == "epoch" else float(getattr(self, name)[-1])) for name in COLUMNS}

    def first_epoch_where(self, column: str, threshold: float) -> int | None:
        """First epoch where ``column >= threshold`` (e.g. test_acc ≥ 0.99: grokking), else None."""
        values = getattr(self, column)
        hits = np.nonzero(values >= threshold)[0]
        return int(self.epoch[hits[0]]) if len(hits) else None

    def to_dict(self) -> dict:
        import torch

        return {name: torch.from_numpy(np.ascontiguousarray(getattr(self, name))) for name in COLUMNS}

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        return cls.from_columns(**{name: np.asarray(data[name]) for name in COLUMNS if name in data})


class HistoryBuffer:
    """Append-friendly accumulator (lists) turned into a :class:`History` on demand."""

    def __init__(self, history: History | None = None):
        self.rows: list[tuple] = []
        if history is not None:
            self.rows = [tuple(getattr(history, name)[i] for name in COLUMNS) for i in range(len(history))]

    def append(self, epoch, train_loss, test_loss, train_acc, test_acc) -> None:
        self.rows.append((int(epoch), float(train_loss), float(test_loss), float(train_acc), float(test_acc)))

    def history(self) -> History:
        columns = list(zip(*self.rows)) if self.rows else [[] for _ in COLUMNS]
        return History.from_columns(**dict(zip(COLUMNS, columns)))
