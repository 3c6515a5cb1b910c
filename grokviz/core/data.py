"""Inputs and train/test splits (design.md §3)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from grokviz.core.errors import ParameterError
from grokviz.core.tasks import Task

SPLIT_KINDS = ("randperm", "shuffle")


def all_tokens(p: int) -> torch.Tensor:
    """[p², 3] int64 tokens ``[a, b, p]`` in row order ``a·p + b``."""
    a = torch.arange(p).repeat_interleave(p)
    b = torch.arange(p).repeat(p)
    return torch.stack([a, b, torch.full_like(a, p)], dim=1)


@dataclass(frozen=True)
class SplitSpec:
    """How the train set is drawn: ``randperm`` (data seed, default 598) or ``shuffle`` (Nanda)."""

    kind: str = "randperm"
    seed: int = 598
    frac_train: float = 0.3

    def __post_init__(self):
        if self.kind not in SPLIT_KINDS:
            raise ParameterError("split", f"unknown split {self.kind!r} (choose from {', '.join(SPLIT_KINDS)})")
        if not (0.0 < float(self.frac_train) < 1.0):
            raise ParameterError("frac_train", f"must lie strictly between 0 and 1, got {self.frac_train!r}")
        from grokviz.core.config import check_seed

        check_seed("data_seed", self.seed)  # torch's generators take 64-bit seeds

    def to_dict(self) -> dict:
        return {"kind": self.kind, "seed": self.seed, "frac_train": float(self.frac_train)}

    @classmethod
    def from_dict(cls, data: dict) -> "SplitSpec":
        return cls(str(data["kind"]), int(data["seed"]), float(data["frac_train"]))


def split_indices(task: Task, spec: SplitSpec) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, test) row indices; rows without a label (div by 0) are in neither.

    ``randperm``: ``torch.manual_seed(seed); torch.randperm(p*p)`` (seed notebook).
    ``shuffle``: ``random.seed(seed); random.shuffle(pairs)`` over (a, b) pairs (Nanda).
    The first ``int(n_valid·frac_train)`` of the order are train.
    """
    p = task.p
    if spec.kind == "randperm":
        generator = torch.Generator().manual_seed(spec.seed)
        order = torch.randperm(p * p, generator=generator)
    else:
        rows = list(range(p * p))
        random.Random(spec.seed).shuffle(rows)
        order = torch.tensor(rows, dtype=torch.int64)
    valid = task.valid_mask()
    order = order[valid[order]]
    n_train = int(len(order) * spec.frac_train)
    if n_train < 1 or n_train >= len(order):
        raise ParameterError("frac_train", f"{spec.frac_train} leaves an empty train or test set at p = {p}")
    return order[:n_train].clone(), order[n_train:].clone()
