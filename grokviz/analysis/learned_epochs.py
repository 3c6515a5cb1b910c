"""When each input is learned: the epoch from which an input is predicted correctly at every later
stored checkpoint (MIScope's "graduation"; design.md §6b).

Predictions come from the last-position forward straight from each checkpoint's state dict
(:mod:`grokviz.analysis.lastpos`, no module per checkpoint). ``learned`` is −1 for an input that
is wrong at the final checkpoint (never learned for good); an input right at every stored
checkpoint is learned at the first one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from grokviz.analysis.labelled import token_axis
from grokviz.analysis.labelled import LabelledTensor
from grokviz.analysis.lastpos import last_position_grid

NEVER = -1


@dataclass(frozen=True)
class LearnedEpochs:
    epochs: list  # the stored checkpoints used, ascending
    correct: torch.Tensor  # [checkpoint, a·p + b] bool: argmax logit = label
    learned: LabelledTensor  # [a, b] int64 epoch (−1: wrong at the final checkpoint; undefined rows −1 too)
    train: torch.Tensor  # [a, b] bool: in the training split
    valid: torch.Tensor  # [a, b] bool: the input has a label

    def accuracy(self, rows: torch.Tensor | None = None) -> list:
        """Per checkpoint, the fraction of ``rows`` (default: every valid input) predicted correctly."""
        mask = self.valid.reshape(-1) if rows is None else rows
        return self.correct[:, mask].double().mean(1).tolist()

    def histogram(self) -> dict:
        """{"epochs": [...], "train": counts learned at each, "test": …, "never": {"train", "test"}}."""
        learned = self.learned.data.reshape(-1)
        train, valid = self.train.reshape(-1), self.valid.reshape(-1)
        index = {e: i for i, e in enumerate(self.epochs)}
        out = {"epochs": list(self.epochs), "never": {}}
        for name, rows in (("train", train & valid), ("test", ~train & valid)):
            values = learned[rows]
            counts = [0] * len(self.epochs)
            for epoch, count in zip(*torch.unique(values[values >= 0], return_counts=True)):
                counts[index[int(epoch)]] = int(count)
            out[name] = counts
            out["never"][name] = int((values < 0).sum())
        return out

    def to_json(self) -> dict:
        learned = self.learned.data.reshape(-1)
        train, valid = self.train.reshape(-1), self.valid.reshape(-1)
        summary = {}
        for name, rows in (("train", train & valid), ("test", ~train & valid)):
            values = learned[rows]
            done = values[values >= 0].double()
            summary[name] = {"inputs": int(rows.sum()), "never": int((values < 0).sum()),
                             "median_epoch": float(done.median()) if len(done) else None,
                             "last_epoch": int(done.max()) if len(done) else None}
        return {"epochs": self.epochs, "summary": summary, "histogram": self.histogram()}


def correct_over_checkpoints(run, epochs=None, on_progress=None, cancel=None) -> torch.Tensor:
    """[checkpoint, p²] bool: each input's argmax prediction is its label (undefined rows False)."""
    epochs = list(run.epochs if epochs is None else epochs)
    labels = run.labels()
    out = torch.zeros(len(epochs), len(labels), dtype=torch.bool)
    for index, epoch in enumerate(epochs):
        if cancel is not None and cancel():
            return None
        logits = last_position_grid(run.state_dict(epoch), ("logits",))["logits"]
        out[index] = logits.reshape(len(labels), -1).argmax(-1) == labels
        if on_progress is not None:
            on_progress((index + 1) / len(epochs), f"predictions at epoch {epoch} ({index + 1}/{len(epochs)})")
    return out


def learned_epochs_from(correct: torch.Tensor, epochs) -> torch.Tensor:
    """[inputs] the first epoch from which every later row of ``correct`` is True (−1 if the last is False)."""
    right_ever_after = correct.flip(0).cumprod(0).flip(0).bool()  # [t, i]: right at t and every later one
    first = torch.where(right_ever_after.any(0), right_ever_after.double().argmax(0), torch.full_like(
        right_ever_after[0], -1, dtype=torch.long))
    table = torch.tensor(list(epochs), dtype=torch.long)
    return torch.where(first >= 0, table[first.clamp_min(0)], torch.full_like(first, NEVER))


def learned_epochs(run, on_progress=None, cancel=None) -> LearnedEpochs | None:
    """Learned epochs of every input over all stored checkpoints (None when cancelled)."""
    p = run.p
    epochs = list(run.epochs)
    correct = correct_over_checkpoints(run, epochs, on_progress, cancel)
    if correct is None:
        return None
    learned = learned_epochs_from(correct, epochs)
    train_rows, _ = run.indices()
    train = torch.zeros(p * p, dtype=torch.bool)
    train[train_rows] = True
    valid = run.labels() >= 0
    learned = torch.where(valid, learned, torch.full_like(learned, NEVER))
    tensor = LabelledTensor(learned.view(p, p), (token_axis("a", p), token_axis("b", p)),
                            title="epoch learned for good")
    return LearnedEpochs(epochs, correct, tensor, train.view(p, p), valid.view(p, p))
