"""A run: everything known about one training run, whatever file it came from."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from grokviz.core.config import ModelConfig, TrainConfig
from grokviz.core.data import SplitSpec, all_tokens, split_indices
from grokviz.core.epochs import nearest_stored
from grokviz.core.history import GROKKED_ACCURACY, History
from grokviz.core.tasks import Task

__all__ = ["GROKKED_ACCURACY", "Run"]


@dataclass
class Run:
    """Config, split, history and checkpoints of one run (design.md §5).

    ``checkpoints[i]`` holds the state dict after ``checkpoint_epochs[i]`` training steps;
    ``final_state_dict`` the weights after ``epochs_trained`` steps.
    """

    task: Task
    model_config: ModelConfig
    train_config: TrainConfig
    split: SplitSpec
    history: History
    checkpoint_epochs: list
    checkpoints: list
    final_state_dict: dict
    epochs_trained: int
    source_format: str = "grokviz"
    path: str | None = None
    status: str = "finished"
    wall_time: float = 0.0
    device: str = "cpu"
    resume_state: dict | None = None
    explicit_indices: tuple | None = None  # (train, test) when the file stores them
    notes: list = field(default_factory=list)
    grokviz_version: str = ""
    # stored progress measures (design.md §6), one record per checkpoint: {"epoch", "key_freqs", …}
    progress: list | None = None
    # stored accuracies at the checkpoints (grokviz.core.stored_accuracy): the run file's checkpoint_accuracy entry
    checkpoint_accuracy: dict | None = None

    # -- inputs -------------------------------------------------------------------
    @property
    def p(self) -> int:
        return self.task.p

    def tokens(self) -> torch.Tensor:
        """All p² inputs ``[a, b, =]`` in row order ``a·p + b``: [p², 3] int64."""
        return all_tokens(self.p)

    def labels(self) -> torch.Tensor:
        return self.task.labels()

    def indices(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(train, test) row indices."""
        if self.explicit_indices is not None:
            return self.explicit_indices
        return split_indices(self.task, self.split)

    # -- weights ------------------------------------------------------------------
    @property
    def epochs(self) -> list[int]:
        """Epochs with weights: every checkpoint plus the final epoch."""
        epochs = [int(e) for e in self.checkpoint_epochs]
        if not epochs or epochs[-1] != self.epochs_trained:
            epochs.append(int(self.epochs_trained))
        return epochs

    def state_dict(self, epoch: int | None = None) -> dict:
        """Float32 state dict at ``epoch`` (final weights when None or the final epoch)."""
        if epoch is None or int(epoch) == int(self.epochs_trained):
            state = self.final_state_dict
        else:
            try:
                index = [int(e) for e in self.checkpoint_epochs].index(int(epoch))
            except ValueError:
                raise KeyError(f"no checkpoint at epoch {epoch}; available: {self.epochs[:5]}…{self.epochs[-3:]}") from None
            state = self.checkpoints[index]
        return {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}

    def nearest_epoch(self, epoch: int) -> int:
        """The stored epoch nearest ``epoch`` (ties: the earlier)."""
        return nearest_stored(self.epochs, int(epoch))

    def model(self, epoch: int | None = None, device: str | torch.device = "cpu"):
        """A :class:`GrokTransformer` with the weights at ``epoch`` (final by default), in eval mode."""
        from grokviz.core.model import GrokTransformer

        model = GrokTransformer(self.model_config, init=False)
        model.load_state_dict(self.state_dict(epoch), strict=True)
        return model.to(device).eval()

    # -- summary ------------------------------------------------------------------
    def grokked_epoch(self) -> int | None:
        """First evaluation with test accuracy ≥ 99 %, or None."""
        return self.history.first_epoch_where("test_acc", GROKKED_ACCURACY)

    def final_metrics(self) -> dict:
        last = self.history.last()
        return {
            "train_loss": last["train_loss"],
            "test_loss": last["test_loss"],
            "train_acc": last["train_acc"],
            "test_acc": last["test_acc"],
        }

    def summary(self) -> dict:
        """The run's facts (no analysis: the ``summary`` report adds the key frequencies)."""
        cfg = self.model_config
        summary = {
            "task": self.task.spec,
            "formula": self.task.formula,
            "p": self.p,
            "m": self.task.m,
            "n": self.task.n,
            "source_format": self.source_format,
            "model": {"d_model": cfg.d_model, "n_heads": cfg.n_heads, "d_head": cfg.d_head, "d_mlp": cfg.d_mlp},
            "split": self.split.to_dict(),
            "recipe": {key: self.train_config.to_dict()[key]
                       for key in ("loss", "optimizer", "lr", "weight_decay", "grokfast")},
            "epochs": int(self.epochs_trained),
            "n_checkpoints": len(self.checkpoint_epochs),
            **self.final_metrics(),
            "grokked_epoch": self.grokked_epoch(),
            "status": self.status,
            "wall_time": self.wall_time,
            "device": self.device,
            "notes": list(self.notes),
        }
        return summary
