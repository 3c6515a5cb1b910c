"""``grokviz bench gui`` section ``live_progress_overhead``: what the live progress measures cost training.

The measures (:mod:`grokviz.analysis.live`) run at each checkpoint, in the trainer's thread
(the trainer waits for them): ~50–130 ms against ~3 s of training between two checkpoints of the
default recipe (p = 113). Timing whole runs with and without them cannot resolve that on this
VM: separate runs, even interleaved in one process, differed by ±10 %, and the 100-epoch
intervals of one run by ±12 %.

So both sides are taken inside one training run. The trainer's ``on_checkpoint`` measures at
every other checkpoint interval, in the order with, without, without, with (ABBA: a linear drift
of the machine's speed cancels), and times each interval between two checkpoints (100 epochs of
training, then the checkpoint's measures or nothing) and each measure itself.

* ``ratio`` (the headline): (training + measures) ÷ training, from the measures' own time in the
  trainer's thread and the intervals without them, for a whole grokking run: every checkpoint at
  a grokked checkpoint's cost c (the costly half; before grokking they cost less), plus the
  fraction f of checkpoints re-measured at the end at the final key frequencies, which costs r
  (the measures without finding the key frequencies): 1 + (c + f·r) ÷ interval.
* ``paired_ratios``: Σ(intervals with) ÷ Σ(intervals without) per round, the same quantity by
  difference, which also catches what the measures cost the epochs after them (caches, the
  allocator); ``indirect_ms_per_checkpoint``: that difference minus the measure's own time. Its
  spread is the VM's noise over a bench's few intervals (±2–3 % of an interval).

Two arms, and the end of the run:

* ``own``: the run's own checkpoints (p = 113 does not grok in a bench's 1,300 epochs, so they
  have no key frequencies yet: the cheap half of a real run);
* ``grokked``: at each measured checkpoint the measures of one of the bundled example's grokked
  checkpoints (five key frequencies: the costly half), in the same trainer and thread;
* at the end of a finished run, :meth:`~grokviz.analysis.live.LiveProgress.finalize` measures
  again each checkpoint taken before the key frequencies settled, at the final ones: the
  fraction ``remeasured_fraction`` of checkpoints whose live key set differs from the final one
  (in the bundled example: 26 of 51).
"""

from __future__ import annotations

import statistics
import time

OVERHEAD_TARGET = 1.03
PATTERN = (True, False, False, True)  # measured intervals in each group of four (ABBA)


WARMUP_INTERVALS = 1  # the first interval (allocator, caches, first evaluations) is not compared


class EveryOtherCheckpoint:
    """``on_checkpoint`` that measures in the :data:`PATTERN` of intervals and times each interval,
    in wall-clock and in process CPU time (all threads).

    ``states``: measure these state dicts in turn instead of the trainer's (the grokked arm).
    """

    def __init__(self, live, states=None):
        self.live, self.states = live, list(states or [])
        self.marks: list[tuple[float, float]] = []
        self.measured: list[bool] = []
        self.measure_seconds: list[float] = []

    def __call__(self, epoch: int, state) -> None:
        interval = len(self.marks) - WARMUP_INTERVALS  # of the compared intervals (≤ 0: start, warm-up)
        measure = interval > 0 and PATTERN[(interval - 1) % len(PATTERN)]
        if measure:
            began = time.perf_counter()
            self.live.measure(epoch, self.states[interval % len(self.states)] if self.states else state)
            self.measure_seconds.append(time.perf_counter() - began)
        self.marks.append((time.perf_counter(), time.process_time()))
        self.measured.append(measure)

    def _spans(self, clock: int) -> list[tuple[float, bool]]:
        """(duration, measured) of the compared intervals, whole groups of four."""
        first = WARMUP_INTERVALS + 1
        usable = (len(self.marks) - first) // len(PATTERN) * len(PATTERN)
        return [(self.marks[i][clock] - self.marks[i - 1][clock], self.measured[i]) for i in range(first, first + usable)]

    def ratio(self, clock: int = 0) -> float:
        """Σ(intervals with the measures) ÷ Σ(intervals without), over whole groups of four
        (``clock`` 0: wall-clock, 1: CPU time)."""
        spans = self._spans(clock)
        with_ = sum(d for d, m in spans if m)
        without = sum(d for d, m in spans if not m)
        return with_ / without if without > 0 else float("nan")

    def interval_without(self) -> float:
        """Mean wall-clock seconds of a compared interval without the measures (100 epochs' training)."""
        spans = [d for d, m in self._spans(0) if not m]
        return statistics.mean(spans) if spans else float("nan")

    def measure_time(self) -> float:
        """Median wall-clock seconds of one checkpoint's measures, in the trainer's thread."""
        return statistics.median(self.measure_seconds) if self.measure_seconds else float("nan")


def paired_run(epochs: int, p: int = 113, states=None) -> EveryOtherCheckpoint:
    """One default-recipe run of ``epochs`` epochs timed by :class:`EveryOtherCheckpoint`."""
    from grokviz.analysis.live import for_run_config
    from grokviz.core.config import ModelConfig, TrainConfig
    from grokviz.core.data import SplitSpec
    from grokviz.core.tasks import Task
    from grokviz.core.training import Trainer

    task, split = Task("add", p), SplitSpec()
    timer = EveryOtherCheckpoint(for_run_config(task, split), states)
    Trainer(task, split, ModelConfig(p=p), TrainConfig(epochs=epochs, device="cpu", save_every_seconds=1e9),
            on_checkpoint=timer).run()
    return timer


def grokked_states(count: int = 8) -> tuple[list, float]:
    """The bundled example's last ``count`` checkpoints (grokked, p = 113) and the fraction of its
    checkpoints whose live key frequencies differ from the final ones (re-measured by ``finalize``)."""
    from grokviz.analysis.live import key_freqs_of
    from grokviz.core.example import example_path
    from grokviz.core.runfile import load_run

    run = load_run(example_path())
    if run.task.p != 113:
        raise ValueError(f"the bundled example is p = {run.task.p}; the grokked arm needs p = 113")
    final = key_freqs_of(run.state_dict(), run.task)
    remeasured = sum(key_freqs_of(run.state_dict(e), run.task) != final for e in run.epochs) / len(run.epochs)
    return [run.state_dict(e) for e in run.epochs[-count:]], remeasured


def remeasure_seconds(live, states) -> float:
    """Median seconds of :meth:`~grokviz.analysis.live.LiveProgress.finalize`'s work per checkpoint:
    the measures at given key frequencies (each state's own, as found live)."""
    from grokviz.analysis.live import key_freqs_of

    seconds = []
    for index, state in enumerate(states):
        keys = key_freqs_of(state, live.task)
        live.setup(keys)  # built once per key set (finalize shares one for the run's final keys)
        began = time.perf_counter()
        live.measure(-1 - index, state, keys)
        seconds.append(time.perf_counter() - began)
    return statistics.median(seconds)


def bench_live_progress_overhead(args, app=None, p: int = 113) -> dict:
    """The overhead of the live measures on a whole grokking run (module docstring); target ≤ 1.03."""
    if p != 113:
        raise ValueError("the live overhead is measured at p = 113 (the bundled example's grokked checkpoints)")
    quick = getattr(args, "quick", False)
    epochs, rounds = (600, 1) if quick else (1300, 3)  # 1 + 4·k intervals of 100 epochs
    states, remeasured = grokked_states(3 if quick else 8)
    own = paired_run(epochs, p)
    grokked = [paired_run(epochs, p, states) for _ in range(rounds)]
    remeasure = remeasure_seconds(grokked[-1].live, states)
    shares = [(run.measure_time() + remeasured * remeasure) / run.interval_without() for run in grokked]
    ratio = 1 + statistics.median(shares)
    indirect = [(run.ratio() - 1 - run.measure_time() / run.interval_without()) * run.interval_without() * 1000
                for run in grokked]
    return {"ok": ratio <= OVERHEAD_TARGET, "ratio": ratio, "target": OVERHEAD_TARGET,
            "grokked_measure_ms": [run.measure_time() * 1000 for run in grokked],
            "remeasure_ms": remeasure * 1000, "interval_without_s": [run.interval_without() for run in grokked],
            "whole_run_shares": shares,
            "paired_ratios": [run.ratio() for run in grokked], "paired_cpu_ratios": [run.ratio(1) for run in grokked],
            "indirect_ms_per_checkpoint": indirect,
            "own_measure_ms": own.measure_time() * 1000, "own_share": own.measure_time() / own.interval_without(),
            "own_paired_ratio": own.ratio(), "remeasured_fraction": remeasured, "epochs_per_run": epochs,
            "rounds": rounds, "p": p}
