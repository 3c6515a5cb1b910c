"""Progress-measure records and their table, without torch (design.md §6).

A record is one checkpoint's measures as plain containers, ``{"epoch", "key_freqs",
"definition", **measures}``, stored in the run file's optional ``progress`` entry
(:mod:`grokviz.analysis.live` writes them while training, :mod:`grokviz.analysis.progress`
computes the rest). :class:`ProgressTable` is the column form every reader shows. Nothing here
imports torch, so ``grokviz analyze RUN --report progress`` can read a run's stored records
straight from the file (:func:`grokviz.analysis.reports.progress.read_stored`).

:data:`DEFINITION` stamps each record with the version of the measures' definitions: a change
to what a measure means (its formula, the key-frequency rule) must increase it, so that records
written before are measured again rather than shown. Records without a stamp were written under
definition 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DEFINITION = 1

SCALAR_MEASURES = ("train_loss", "test_loss", "restricted_loss", "excluded_loss", "cos_sim", "residual",
                   "weight_norm", "gini_W_E", "gini_W_L")


def make_record(epoch: int, key_freqs, measures: dict) -> dict:
    """The stored form of one checkpoint's ``measures``, taken at ``key_freqs``."""
    return {**measures, "epoch": int(epoch), "key_freqs": [int(k) for k in key_freqs], "definition": DEFINITION}


def matching_records(records, key_freqs) -> dict:
    """{epoch: record} of the ``records`` taken at exactly ``key_freqs`` under the current :data:`DEFINITION`."""
    keys = [int(k) for k in key_freqs]
    return {int(r["epoch"]): r for r in (records or [])
            if [int(k) for k in r.get("key_freqs", ())] == keys and r.get("definition", 1) == DEFINITION}


@dataclass
class ProgressTable:
    """Per-checkpoint measures as columns (numpy arrays over ``epochs``)."""

    key_freqs: list
    epochs: np.ndarray
    columns: dict
    excluded_loss_per_freq: np.ndarray  # [checkpoint, K]
    cos_coeffs: np.ndarray  # [checkpoint, n//2] (k = 1 … n//2)
    weight_norms: dict = field(default_factory=dict)
    complete: bool = True

    def records(self) -> list:
        rows = []
        for i, epoch in enumerate(self.epochs):
            row = {"epoch": int(epoch), **{name: float(values[i]) for name, values in self.columns.items()}}
            row["excluded_loss_per_freq"] = {str(k): float(v) for k, v in zip(self.key_freqs, self.excluded_loss_per_freq[i])}
            rows.append(row)
        return rows


def table_from_records(key_freqs, epochs, rows, n_half: int, complete: bool = True) -> ProgressTable:
    """The :class:`ProgressTable` of ``rows`` (one measures dict per epoch of ``epochs``, in order);
    ``n_half``: the number of cos-coefficients (k = 1 … n//2 of the task's group Z_n)."""
    columns = {name: np.array([r[name] for r in rows], dtype=np.float64) for name in SCALAR_MEASURES}
    per_freq = np.array([[r["excluded_loss_per_freq"][k] for k in key_freqs] for r in rows],
                        dtype=np.float64).reshape(len(rows), len(key_freqs))
    cos = np.array([r["cos_coeffs"] for r in rows], dtype=np.float64).reshape(len(rows), n_half)
    norms = {name: np.array([r["weight_norms"][name] for r in rows]) for name in (rows[0]["weight_norms"] if rows else {})}
    return ProgressTable(list(key_freqs), np.array(list(epochs), dtype=np.int64), columns, per_freq, cos, norms,
                         complete=complete)
