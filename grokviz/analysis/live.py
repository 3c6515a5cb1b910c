"""Progress measures while a run trains: one record per checkpoint, stored in the run file.

:class:`LiveProgress` is the trainer's ``on_checkpoint(epoch, state)`` callback (core's
:class:`~grokviz.core.training.Trainer` knows nothing about analysis; the caller passes this
in). For each checkpoint it takes the key frequencies of that checkpoint's W_E (design.md §6)
and measures it with :func:`~grokviz.analysis.progress.measure_model` (one
:class:`~grokviz.analysis.progress.ProgressSetup` per key-frequency set, cached). A record is
:func:`~grokviz.analysis.progress_table.make_record` — plain containers, saved as the run file's optional
``progress`` entry (:func:`attach` before each save).

The paper's measures use the *final* model's key frequencies for every checkpoint, which are
unknown while training. :func:`finalize` (after a finished run) re-measures the checkpoints
whose key frequencies differ from the final ones, so the stored records are exactly what
:func:`~grokviz.analysis.progress.progress_measures` computes and later readers (app, ``analyze
--progress``) reuse them without recomputing. Cost per checkpoint at p = 113, default model:
~30 ms of CPU (:mod:`grokviz.analysis.progress`), against ~2.5 s of training between two
checkpoints of the default recipe (every 100 epochs at ~25 ms): ~1 %. ``grokviz bench gui``
measures it end to end (``live_progress_overhead``). ``grokviz train --no-progress-measures``
turns it off.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable

SETUP_CACHE = 4


def key_freqs_of(state, task=None) -> list:
    """The key frequencies progress measures use (one definition: :func:`grokviz.analysis.progress.key_frequencies_of`)."""
    from grokviz.analysis.progress import key_frequencies_of

    return key_frequencies_of(state, task)


class LiveProgress:
    """``on_checkpoint`` callback: measure each checkpoint as the trainer writes it.

    ``on_record(record)`` (optional) hears each new record (the app streams them to the window).
    ``records`` start from ``existing`` (a resumed run's stored records).
    """

    def __init__(self, task, train_rows, test_rows, existing: list | None = None,
                 on_record: Callable[[dict], None] | None = None):
        self.task, self.train_rows, self.test_rows = task, train_rows, test_rows
        self.on_record = on_record
        self.records: dict[int, dict] = {int(r["epoch"]): r for r in (existing or [])}
        self._setups: OrderedDict = OrderedDict()
        self.seconds = 0.0  # time spent measuring (the overhead on training)

    def setup(self, key_freqs):
        from grokviz.analysis.progress import ProgressSetup

        key = tuple(key_freqs)
        if key not in self._setups:
            self._setups[key] = ProgressSetup.build(self.task, self.train_rows, self.test_rows, list(key))
            while len(self._setups) > SETUP_CACHE:
                self._setups.popitem(last=False)
        self._setups.move_to_end(key)
        return self._setups[key]

    def measure(self, epoch: int, state, key_freqs=None) -> dict:
        import time

        from grokviz.analysis.lastpos import GridReadout
        from grokviz.analysis.progress import measure_model
        from grokviz.analysis.progress_table import make_record
        from grokviz.analysis.spectrum import key_frequencies_only
        from grokviz.core.weights import Weights

        began = time.perf_counter()
        weights = Weights.of(state)
        readout = GridReadout.of(weights)  # one set of read-out tables for the key frequencies and the measures
        post = None
        if key_freqs is None:  # the neurons' activations serve both too
            post = readout.pre().relu_()
            keys = key_frequencies_only(weights, self.task.coordinates(), post=post)
        else:
            keys = [int(k) for k in key_freqs]
        record = make_record(epoch, keys, measure_model(self.setup(keys), weights, readout=readout, post=post))
        self.records[int(epoch)] = record
        self.seconds += time.perf_counter() - began
        return record

    def __call__(self, epoch: int, state) -> None:
        record = self.measure(epoch, state)
        if self.on_record is not None:
            self.on_record(record)

    # -- into the run ------------------------------------------------------------------------
    def attach(self, run) -> None:
        """Put the records of the run's epochs on ``run.progress`` (measuring the final weights
        when the run has ended between checkpoints)."""
        final = int(run.epochs_trained)
        if run.status != "running" and final not in self.records:
            self(final, run.final_state_dict)
        wanted = set(run.epochs)
        run.progress = [self.records[e] for e in sorted(self.records) if e in wanted] or None

    def finalize(self, run) -> int:
        """Re-measure checkpoints at the final key frequencies (see the module docstring); how many."""
        from grokviz.analysis.progress_table import matching_records

        final_keys = key_freqs_of(run.final_state_dict, run.task)
        current = matching_records(self.records.values(), final_keys)
        redone = 0
        for epoch in run.epochs:
            if int(epoch) not in current:
                self.measure(int(epoch), run.state_dict(epoch), final_keys)
                redone += 1
        self.attach(run)
        return redone


def saving_with_progress(live: LiveProgress, save: Callable) -> Callable:
    """Wrap a trainer ``on_save(run)``: attach the records (finalized when the run finished) first."""

    def on_save(run):
        if run.status == "finished":
            live.finalize(run)
        else:
            live.attach(run)
        save(run)

    return on_save


def for_run_config(task, split, resume_from=None, on_record=None) -> LiveProgress:
    """A :class:`LiveProgress` for a new run (``split``) or a resumed one (its rows and stored records)."""
    from grokviz.core.data import split_indices

    if resume_from is not None:
        train_rows, test_rows = resume_from.indices()
        existing = resume_from.progress
    else:
        train_rows, test_rows = split_indices(task, split)
        existing = None
    return LiveProgress(task, train_rows, test_rows, existing, on_record)
