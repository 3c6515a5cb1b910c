"""Step engines: one full-batch forward + backward of the recipe's loss (design.md §4).

The recipe's schedule (:class:`grokviz.core.schedule.Schedule`) calls ``engine.step(evaluating)``
once per epoch; the step sets ``.grad`` of every tensor in ``engine.trainable`` and returns the
loss (and, when evaluating, the metrics of the weights before the update). Three engines:

- :class:`HandWrittenEngine` — the CPU step with hand-written gradients in reused buffers
  (:mod:`grokviz.core.lastpos.step`): autograd's bookkeeping costs as much as the MLP's matmuls
  on a CPU;
- :class:`AutogradEngine` — autograd through :func:`~grokviz.core.lastpos.last_position_logits`,
  every op on the device: the CUDA path (run on the CPU by the tests);
- :class:`EnsembleEngine` — E same-shaped models stacked and ``vmap``-ed
  (:mod:`grokviz.core.lastpos.batched`): one GPU trains a sweep group at once.

The loss is the run's (:mod:`grokviz.core.losses`): the notebooks' mean −log softmax at the label
in float64, or StableMax's; every engine computes both (``loss=``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from grokviz.core.lastpos import InputLayout, last_position_logits
from grokviz.core.lastpos.batched import ensemble_logits
from grokviz.core.lastpos.step import TrainStep
from grokviz.core.losses import cross_entropy_float64, loss_function, stacked_losses  # noqa: F401 - re-exported
from grokviz.core.weights import Weights

EVAL_CHUNK_LOGITS = 32 * 1024 * 1024  # logits per evaluation chunk (bounds memory at large p)
ENGINES = ("auto", "hand-written", "autograd")


def eval_chunks(rows: torch.Tensor, p: int, max_logits: int = EVAL_CHUNK_LOGITS) -> list[InputLayout]:
    """Inputs (rows a·p + b) as layouts of at most ``max_logits`` logits each."""
    size = max(1, max_logits // p)
    return [InputLayout.from_rows(rows[i : i + size], p) for i in range(0, len(rows), size)]


@torch.no_grad()
def evaluate(model, layouts: list[InputLayout], labels: torch.Tensor, loss: str = "cross_entropy") -> tuple[float, float]:
    """(loss, accuracy) over inputs split into layout chunks; ``labels`` concatenated in order.

    ``model``: a GrokTransformer or its :class:`~grokviz.core.weights.Weights`; ``loss``: a name in
    :data:`~grokviz.core.losses.LOSSES`."""
    mean_loss = loss_function(loss)
    total_loss, correct, count, start = 0.0, 0, 0, 0
    for layout in layouts:
        logits = last_position_logits(model, layout)
        target = labels[start : start + len(layout)]
        start += len(layout)
        total_loss += float(mean_loss(logits, target)) * len(layout)
        correct += int((logits.argmax(-1) == target).sum())
        count += len(layout)
    return total_loss / max(count, 1), correct / max(count, 1)


@dataclass(frozen=True)
class StepResult:
    """One step's loss (float64; [E] for an ensemble) and, when evaluating, the accuracy on the
    training inputs and the test loss and accuracy, all of the weights before the update."""

    loss: torch.Tensor
    train_acc: float | torch.Tensor | None = None
    test_loss: float | torch.Tensor | None = None
    test_acc: float | torch.Tensor | None = None


@dataclass
class Split:
    """One model's training and test inputs on the device: layouts and labels (test in chunks)."""

    train_rows: torch.Tensor  # a·p + b, sorted
    train_layout: InputLayout
    train_labels: torch.Tensor
    test_layouts: list[InputLayout]
    test_labels: torch.Tensor

    @classmethod
    def of(cls, train_rows: torch.Tensor, test_rows: torch.Tensor, labels: torch.Tensor, p: int) -> "Split":
        # a-major order (the loss is a mean, so order is free): the attention-table gathers stay in cache
        train_rows, test_rows = train_rows.sort().values, test_rows.sort().values
        return cls(train_rows, InputLayout.from_rows(train_rows, p), labels[train_rows], eval_chunks(test_rows, p),
                   labels[test_rows])


class _SingleModel:
    """An engine for one model's :class:`Weights` (the parameters themselves)."""

    stacked = False  # one model per tensor (⊥Grad projects whole tensors)

    def __init__(self, weights: Weights, trainable: list[torch.Tensor], split: Split, loss: str = "cross_entropy"):
        self.weights, self.trainable, self.split, self.loss = weights, trainable, split, loss

    def final_metrics(self) -> tuple[float, float, float, float]:
        """(train loss, test loss, train accuracy, test accuracy) of the weights as they are."""
        split = self.split
        train_loss, train_acc = evaluate(self.weights, eval_chunks(split.train_rows, self.weights.p), split.train_labels,
                                         self.loss)
        test_loss, test_acc = evaluate(self.weights, split.test_layouts, split.test_labels, self.loss)
        return train_loss, test_loss, train_acc, test_acc


class HandWrittenEngine(_SingleModel):
    """The CPU step: forward and hand-written backward in reused buffers (:class:`TrainStep`)."""

    def __init__(self, weights: Weights, trainable: list[torch.Tensor], split: Split, loss: str = "cross_entropy"):
        super().__init__(weights, trainable, split, loss)
        self._step = TrainStep(weights, split.train_layout, split.train_labels, loss=loss)

    def step(self, evaluating: bool) -> StepResult:
        step, split = self._step, self.split
        tables = step.tables()
        if not evaluating:
            return StepResult(step.step(tables)[0])
        test_loss, test_acc = step.evaluate(tables, split.test_layouts, split.test_labels)
        loss, train_acc = step.step(tables, accuracy=True)
        return StepResult(loss, train_acc, test_loss, test_acc)


class AutogradEngine(_SingleModel):
    """Autograd through :func:`last_position_logits`, every op on the weights' device."""

    def step(self, evaluating: bool) -> StepResult:
        split = self.split
        test_loss = test_acc = train_acc = None
        if evaluating:
            test_loss, test_acc = evaluate(self.weights, split.test_layouts, split.test_labels, self.loss)
        for tensor in self.trainable:
            tensor.grad = None
        logits = last_position_logits(self.weights, split.train_layout)
        loss = loss_function(self.loss)(logits, split.train_labels)
        loss.backward()
        if evaluating:
            train_acc = int((logits.detach().argmax(-1) == split.train_labels).sum()) / len(split.train_labels)
        return StepResult(loss.detach(), train_acc, test_loss, test_acc)


def single_engine(name: str, device: torch.device, weights: Weights, trainable, split: Split,
                  loss: str = "cross_entropy"):
    """The engine ``name`` (``auto``: hand-written on a CPU, autograd elsewhere) for the loss ``loss``."""
    if name == "auto":
        name = "hand-written" if device.type == "cpu" else "autograd"
    if name == "hand-written":
        if device.type != "cpu":
            from grokviz.core.errors import ParameterError

            raise ParameterError("engine", f"the hand-written step runs on the CPU only, not {device}")
        return HandWrittenEngine(weights, trainable, split, loss)
    return AutogradEngine(weights, trainable, split, loss)


class EnsembleEngine:
    """E stacked models, each with its own inputs (same count per model) and labels.

    ``params``/``buffers``: state-dict keys → [E, ...] (:func:`~grokviz.core.lastpos.batched.stack_models`);
    ``params`` are the trainable leaves. AdamW and Grokfast act element-wise, so one optimiser
    over the stacked parameters equals one optimiser per model; ⊥Grad projects per model (``stacked``).
    """

    stacked = True

    def __init__(self, params: dict, buffers: dict, train_rows, test_rows, labels_train, labels_test, p: int,
                 loss: str = "cross_entropy"):
        self.params, self.buffers, self.p, self.loss = params, buffers, p, loss
        self.trainable = list(params.values())
        self.train = (train_rows // p, train_rows % p, labels_train)
        self.test = (test_rows // p, test_rows % p, labels_test)

    def losses(self, a, b, labels) -> tuple[torch.Tensor, torch.Tensor]:
        """(per-model float64 mean loss [E], logits [E, N, p])."""
        logits = ensemble_logits(self.params, self.buffers, a, b)
        return stacked_losses(self.loss, logits, labels), logits

    def _metrics(self, inputs) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            loss, logits = self.losses(*inputs)
        return loss, (logits.argmax(-1) == inputs[2]).double().mean(-1)

    def step(self, evaluating: bool) -> StepResult:
        test_loss = test_acc = train_acc = None
        if evaluating:
            test_loss, test_acc = self._metrics(self.test)
        for tensor in self.trainable:
            tensor.grad = None
        losses, logits = self.losses(*self.train)
        losses.sum().backward()  # each model's gradient is its own loss's
        if evaluating:
            train_acc = (logits.detach().argmax(-1) == self.train[2]).double().mean(-1)
        return StepResult(losses.detach(), train_acc, test_loss, test_acc)

    def final_metrics(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-model [E] (train loss, test loss, train accuracy, test accuracy)."""
        (train_loss, train_acc), (test_loss, test_acc) = self._metrics(self.train), self._metrics(self.test)
        return train_loss, test_loss, train_acc, test_acc
