"""Accuracies and losses of imported weights, computed with the last-position fast path.

Logits of ``rows`` inputs are [rows, p]; at p = 1021 all p² rows would be 4 GB (274 GB at
p = 4093), so rows are evaluated in chunks of ``budgets.LOGIT_CHUNK_ELEMENTS`` logits and only
per-row results (prediction, loss) are kept. Past ``budgets.MAX_EVALUATION_ROWS`` rows per split
a fixed random sample of that many rows is evaluated, and the run's notes say so.

At import only the final weights are evaluated (accuracy, and the losses the file may lack).
Accuracies at every stored checkpoint (:func:`checkpoint_accuracies`) are computed lazily, by the
``checkpoint_accuracy`` report (grokviz.analysis.reports), not here: one checkpoint costs
20–30 ms at p = 113 (d_model 128, d_mlp 512, all 12,769 inputs, :func:`grid_predictions`) on a
quiet 2-core VM and 100–400 ms on a busy one, so the 250 checkpoints of a Nanda file would add
6–60 s to a load of its weights that takes 1–2 s for two checkpoints (measured: loading a
250-checkpoint look-alike took 19–42 s with 32 checkpoints evaluated at import, 8–18 s without,
same runs, busy VM). The app computes them in a worker once the run is open and draws them as points.
"""

from __future__ import annotations

import torch

from grokviz.core.config import ModelConfig
from grokviz.core.importers import budgets
from grokviz.core.tasks import Task

SAMPLE_SEED = 0


class _Evaluator:
    """Per-row predictions and losses for a sequence of state dicts (design.md §2 layout),
    straight from the weights: no model object (and no TransformerLens import) is needed."""

    def __init__(self, cfg: ModelConfig):
        self.p = cfg.p
        self._layouts: dict = {}

    def _chunks(self, rows: torch.Tensor) -> list:
        """Input layouts of ``rows`` in chunks of about LOGIT_CHUNK_ELEMENTS logits (cached)."""
        from grokviz.core.lastpos import InputLayout

        key = (rows.data_ptr(), len(rows))
        cached = self._layouts.get(key)
        if cached is None or cached[0] is not rows:
            size = max(1, budgets.LOGIT_CHUNK_ELEMENTS // self.p)
            cached = (rows, [InputLayout.from_rows(rows[i : i + size], self.p) for i in range(0, len(rows), size)])
            self._layouts[key] = cached
        return cached[1]

    @torch.inference_mode()
    def scores(self, state: dict, rows: torch.Tensor, labels: torch.Tensor | None = None):
        """(predicted label [n], loss [n] float64 or None) of inputs ``rows`` under ``state``;
        ``labels`` (of those rows, −1 = none) give the cross-entropy, NaN where there is none."""
        from grokviz.core.lastpos import last_position_logits
        from grokviz.core.weights import Weights

        weights = Weights.of({k: (v.float() if v.is_floating_point() else v) for k, v in state.items()})
        predictions = torch.empty(len(rows), dtype=torch.int64)
        losses = None if labels is None else torch.full((len(rows),), float("nan"), dtype=torch.float64)
        start = 0
        for layout in self._chunks(rows):
            logits = last_position_logits(weights, layout)
            stop = start + len(layout)
            predictions[start:stop] = logits.argmax(-1)
            if labels is not None:
                chunk_labels = labels[start:stop]
                valid = chunk_labels >= 0
                log_probs = logits[valid].double().log_softmax(-1)
                losses[start:stop][valid] = -log_probs.gather(-1, chunk_labels[valid][:, None])[:, 0]
            start = stop
        return predictions, losses


GRID_MAX_LOGITS = 1 << 24
"""All p² inputs' logits at once (p³ values, 64 MB) on the table read-out path up to this many
(p ≤ 256); larger runs go through :class:`_Evaluator`'s chunks."""
GRID_ROW_CHUNK = 2048


@torch.inference_mode()
def grid_predictions(state: dict) -> torch.Tensor:
    """Predicted class of every input a·p + b, from the attention tables
    (:class:`~grokviz.core.lastpos.grid.GridReadout`: ``pre`` and the direct logits by one
    ``embedding_bag`` each; the neurons' logits through W_out·W_U in blocks): 1.2–1.6× faster than
    :class:`_Evaluator` at p = 113 (median per checkpoint 24 vs 40 ms on a quiet VM, 115 vs 139 ms
    on a busy one; same predictions)."""
    from grokviz.core.lastpos.grid import GridReadout
    from grokviz.core.weights import Weights

    w = Weights.of({k: (v.float() if v.is_floating_point() else v) for k, v in state.items()})
    readout = GridReadout.of(w)
    logits = readout.direct_logits()
    w_logit = w.w_logit
    for start in range(0, len(logits), GRID_ROW_CHUNK):
        rows = slice(start, start + GRID_ROW_CHUNK)
        logits[rows].addmm_(readout.pre(rows).relu_(), w_logit)
    return logits.argmax(-1)


def sample_rows(rows: torch.Tensor, limit: int | None = None) -> torch.Tensor:
    """``rows``, or a fixed random sample of ``limit`` of them (sorted) if there are more."""
    limit = budgets.MAX_EVALUATION_ROWS if limit is None else limit
    if len(rows) <= limit:
        return rows
    pick = torch.randperm(len(rows), generator=torch.Generator().manual_seed(SAMPLE_SEED))[:limit]
    return rows[pick].sort().values


def _accuracy(predictions: torch.Tensor, labels: torch.Tensor) -> float:
    valid = labels >= 0
    if not bool(valid.any()):
        return float("nan")
    return float((predictions[valid] == labels[valid]).double().mean())


def _loss(losses: torch.Tensor, labels: torch.Tensor) -> float:
    valid = labels >= 0
    if not bool(valid.any()):
        return float("nan")
    return float(losses[valid].mean())


def _split_rows(task: Task, train_rows, test_rows, notes: list | None = None):
    """(train rows, test rows, train labels, test labels), sampled past MAX_EVALUATION_ROWS (noted)."""
    labels = task.labels()
    train, test = sample_rows(train_rows), sample_rows(test_rows)
    if notes is not None and (len(train) < len(train_rows) or len(test) < len(test_rows)):
        notes.append(
            f"accuracies and final losses computed on {len(train):,} of {len(train_rows):,} train and "
            f"{len(test):,} of {len(test_rows):,} test inputs (a fixed random sample; budgets.MAX_EVALUATION_ROWS)"
        )
    return train, test, labels[train], labels[test]


def _evaluate(evaluator, task: Task, train_rows, test_rows, final_epoch, final_state, notes):
    """Accuracies and losses of the final weights, as ``({epoch: (train_acc, test_acc)},
    {epoch: (train_loss, test_loss)})`` (the checkpoints': :func:`checkpoint_accuracies`)."""
    train, test, train_labels, test_labels = _split_rows(task, train_rows, test_rows, notes)
    train_pred, train_loss = evaluator.scores(final_state, train, train_labels)
    test_pred, test_loss = evaluator.scores(final_state, test, test_labels)
    accuracies = {final_epoch: (_accuracy(train_pred, train_labels), _accuracy(test_pred, test_labels))}
    computed = {final_epoch: (_loss(train_loss, train_labels), _loss(test_loss, test_labels))}
    return accuracies, computed


def checkpoint_accuracies(run, epochs=None, on_each=None, cancel=None) -> tuple[dict, list]:
    """``({epoch: (train_acc, test_acc)}, notes)`` of ``run`` at ``epochs`` (every stored epoch by
    default), from the weights on the fast path; ``on_each(done, total, epoch)`` after each one,
    ``cancel()`` returning True stops early (the dict then holds the epochs done so far)."""
    epochs = list(run.epochs if epochs is None else epochs)
    notes: list = []
    train_rows, test_rows = run.indices()
    train, test, train_labels, test_labels = _split_rows(run.task, train_rows, test_rows, notes)
    evaluator = _Evaluator(run.model_config)
    p = run.p
    whole_grid = len(train) == len(train_rows) and len(test) == len(test_rows) and p ** 3 <= GRID_MAX_LOGITS
    out = {}
    for done, epoch in enumerate(epochs, 1):
        if cancel is not None and cancel():
            break
        state = run.state_dict(epoch)
        if whole_grid:
            predictions = grid_predictions(state)
            train_pred, test_pred = predictions[train], predictions[test]
        else:
            train_pred, _ = evaluator.scores(state, train)
            test_pred, _ = evaluator.scores(state, test)
        out[int(epoch)] = (_accuracy(train_pred, train_labels), _accuracy(test_pred, test_labels))
        if on_each is not None:
            on_each(done, len(epochs), int(epoch))
    return out, notes
