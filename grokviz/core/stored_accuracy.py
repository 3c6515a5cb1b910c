"""Accuracies at the stored checkpoints, kept in a run file (its optional ``checkpoint_accuracy`` entry).

The ``checkpoint_accuracy`` report (:mod:`grokviz.analysis.reports.checkpoint_accuracy`) computes
them from the weights for histories that record losses only (Nanda's, the Grokking demo's): 20–30 ms
per checkpoint at p = 113, seconds to a minute for a 250-checkpoint file. ``grokviz convert`` and a
save of a run the report ran on store them, so a reopened file shows them at once. The entry holds
plain numbers only (design.md §5: nothing in it can run code)::

    checkpoint_accuracy: {definition: 1, epochs: [int], train_acc: [float], test_acc: [float],
                          weights_crc32: [int], notes: [str]}

``weights_crc32`` is each checkpoint's fingerprint (:func:`fingerprint`: 0.16 s for 250 checkpoints
at p = 113, against 6–60 s to compute the accuracies). A stored value is used only for an epoch the
run has whose weights have the same fingerprint (:func:`matching`), so values that no longer describe the file's checkpoints (retrained, edited,
stored in another precision) are recomputed, never shown. :data:`DEFINITION` stamps how they were
computed (split, sampling); a change to that must increase it.
"""

from __future__ import annotations

import math

from grokviz.core.importers.checksum import tensor_crc
from grokviz.core.importers.validate import _is_int

KEY = "checkpoint_accuracy"
DEFINITION = 1
MAX_RECORDS = 1_000_000


def fingerprint(state: dict) -> int:
    """The CRC-32 of a checkpoint's tensors (names, dtypes, shapes and bytes; the run file checksum's walk)."""
    return tensor_crc({"weights": state}, ["weights"])


def make_entry(values: dict, fingerprints: dict, notes=()) -> dict:
    """The stored form of ``{epoch: (train_acc, test_acc)}`` with ``{epoch: fingerprint}``."""
    epochs = sorted(int(e) for e in values)
    return {"definition": DEFINITION, "epochs": epochs, "train_acc": [float(values[e][0]) for e in epochs],
            "test_acc": [float(values[e][1]) for e in epochs], "weights_crc32": [int(fingerprints[e]) for e in epochs],
            "notes": [str(n) for n in notes]}


def _accuracy(value) -> bool:
    return isinstance(value, float) and (math.isnan(value) or 0.0 <= value <= 1.0)


def entry_problem(value) -> str | None:
    """Why ``value`` is not a ``checkpoint_accuracy`` entry of this grokviz (short), or None."""
    if not isinstance(value, dict):
        return f"a {type(value).__name__}, not a dict"
    definition = value.get("definition")
    if not _is_int(definition) or definition != DEFINITION:
        return "computed under another definition"
    columns = [value.get(name) for name in ("epochs", "train_acc", "test_acc", "weights_crc32")]
    if not all(isinstance(c, list) for c in columns) or len({len(c) for c in columns}) != 1:
        return "its columns are not lists of one length"
    epochs, train, test, crcs = columns
    if len(epochs) > MAX_RECORDS:
        return f"{len(epochs):,} records"
    if not all(_is_int(e) and e >= 0 for e in epochs) or any(b <= a for a, b in zip(epochs, epochs[1:])):
        return "its epochs are not increasing non-negative integers"
    if not all(_accuracy(v) for v in train + test):
        return "an accuracy is not a number in [0, 1]"
    if not all(_is_int(v) and 0 <= v < 2**32 for v in crcs):
        return "a fingerprint is not a CRC-32"
    notes = value.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        return "its notes are not a list of strings"
    return None


def read_entry(value, notes: list) -> dict | None:
    """The entry as read from a file: None if absent; None with a line on ``notes`` if malformed."""
    if value is None:
        return None
    problem = entry_problem(value)
    if problem is not None:
        notes.append(f"stored checkpoint accuracies ignored ({problem}); they are computed again when needed")
        return None
    return value


def matching(entry: dict | None, run) -> tuple[dict, dict]:
    """``({epoch: (train_acc, test_acc)}, {epoch: fingerprint})`` of the stored values that describe
    ``run``'s weights: the epoch is one of the run's and its weights have the stored fingerprint."""
    if not entry:
        return {}, {}
    have = set(run.epochs)
    values, prints = {}, {}
    for epoch, train, test, crc in zip(entry["epochs"], entry["train_acc"], entry["test_acc"], entry["weights_crc32"]):
        if epoch in have and fingerprint(run.state_dict(epoch)) == crc:
            values[epoch], prints[epoch] = (train, test), crc
    return values, prints
