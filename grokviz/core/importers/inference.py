"""The task of an imported run: given by the user, named in the file, or inferred from the weights."""

from __future__ import annotations

import torch

from grokviz.core.errors import ParameterError, TaskInferenceError
from grokviz.core.importers.evaluate import sample_rows
from grokviz.core.tasks import Task, is_prime, parse_task

# Task inference: the best candidate must predict at least this share of the training labels.
MIN_INFERENCE_ACCURACY = 0.5
MAX_INFERENCE_EXPONENT = 9


def coerce_task(task, p: int) -> Task | None:
    """A :class:`Task` (checked against ``p``), a spec like ``"pow:m=4,n=3"``, or None."""
    if task is None:
        return None
    if isinstance(task, Task):
        if task.p != p:
            raise ParameterError("task", f"{task.spec} is modulo {task.p}, but the run has p = {p}")
        return task
    if isinstance(task, str):
        return parse_task(task, p)
    raise ParameterError("task", f"expected a Task or a spec like 'add' or 'pow:m=4,n=3', got a {type(task).__name__}")


def candidate_tasks(p: int) -> list[Task]:
    """Tasks considered by :func:`infer_task`, in tie-break order."""
    candidates = [Task("add", p), Task("sub", p), Task("mul", p)]
    if is_prime(p):
        candidates.append(Task("div", p))
    for m in range(1, MAX_INFERENCE_EXPONENT + 1):
        for n in range(1, MAX_INFERENCE_EXPONENT + 1):
            if (m, n) != (1, 1):  # a^1 + b^1 is add
                candidates.append(Task("pow", p, m, n))
    return candidates


def infer_task(predictions: torch.Tensor, rows: torch.Tensor, p: int) -> tuple[Task, float, list[Task]]:
    """Best candidate for predicted labels ``predictions`` of ``rows``: (task, accuracy, ties)."""
    best, best_accuracy, ties = None, -1.0, []
    for candidate in candidate_tasks(p):
        labels = candidate.labels()[rows]
        valid = labels >= 0
        if not bool(valid.any()):
            continue
        accuracy = float((predictions[valid] == labels[valid]).double().mean())
        if accuracy > best_accuracy + 1e-12:
            best, best_accuracy, ties = candidate, accuracy, []
        elif abs(accuracy - best_accuracy) <= 1e-12:
            ties.append(candidate)
    return best, best_accuracy, ties


def _resolve_task(path, given, p: int, named: Task | None, evaluator, final_state, train_rows, notes) -> Task:
    task = coerce_task(given, p)
    if task is not None:
        if named is not None and named != task:
            notes.append(f"task given as {task.spec}; the file says {named.spec}")
        return task
    if named is not None:
        return named
    rows = sample_rows(train_rows)
    predictions, _ = evaluator.scores(final_state, rows)
    best, accuracy, ties = infer_task(predictions, rows, p)
    if best is None or accuracy < MIN_INFERENCE_ACCURACY:
        shown = f"{accuracy * 100:.1f} % of the training labels (best: {best.spec})" if best else "no labels"
        raise TaskInferenceError(
            path,
            f"cannot infer the task: the final model predicts at most {shown}; "
            "give the task explicitly (e.g. task='pow:m=4,n=3' or --task pow:m=4,n=3)",
            best.spec if best else None, max(accuracy, 0.0))
    note = f"task inferred: {best.spec} (train accuracy {accuracy * 100:.1f} %)"
    if ties:
        note += f"; equally consistent: {', '.join(t.spec for t in ties[:4])}"
    notes.append(note)
    return best
