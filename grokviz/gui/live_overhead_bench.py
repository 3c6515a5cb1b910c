"""``grokviz bench gui`` section ``live_progress_overhead``: what the live progress measures cost training.

The measures (:mod:`grokviz.analysis.live`) run at each checkpoint, ~50–130 ms against ~3.5 s
of training between two checkpoints of the default recipe (p = 113): 1–4 %. Timing whole runs
with and without them cannot resolve that on this VM — separate runs, even interleaved in one
process, differed by ±10 %, and once the runs *with* the measures were the fastest.

So the comparison is paired inside one training run. The trainer's ``on_checkpoint`` measures at
every other checkpoint interval, in the order with, without, without, with (ABBA: a linear drift
of the machine's speed cancels), and the time of each interval between two checkpoints — 100
epochs of training, then the checkpoint's measures or nothing — is recorded. The ratio
Σ(intervals with) ÷ Σ(intervals without) is the training time with the measures ÷ without,
taken seconds apart on the same trainer.

Two arms, and the end of the run:

* ``own``: the run's own checkpoints (p = 113 does not grok in a bench's 1,200 epochs, so they
  have no key frequencies yet: the cheap half of a real run);
* ``grokked``: at each measured checkpoint the measures of one of the bundled example's grokked
  checkpoints (five key frequencies: the costly half), in the same trainer and thread;
* at the end of a finished run, :meth:`~grokviz.analysis.live.LiveProgress.finalize` measures
  again each checkpoint taken before the key frequencies settled, at the final ones: the
  fraction ``remeasured_fraction`` of checkpoints for which the live rule's key set differs from
  the final one (in the bundled example: 26 of 51).

The headline ``ratio`` bounds a whole grokking run: every checkpoint at a grokked checkpoint's
cost, plus the re-measured fraction again: 1 + (1 + f)·(grokked ratio − 1).
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

    def __call__(self, epoch: int, state) -> None:
        interval = len(self.marks) - WARMUP_INTERVALS  # of the compared intervals (≤ 0: start, warm-up)
        measure = interval > 0 and PATTERN[(interval - 1) % len(PATTERN)]
        if measure:
            self.live.measure(epoch, self.states[interval % len(self.states)] if self.states else state)
        self.marks.append((time.perf_counter(), time.process_time()))
        self.measured.append(measure)

    def ratio(self, clock: int = 0) -> float:
        """Σ(intervals with the measures) ÷ Σ(intervals without), over whole groups of four
        (``clock`` 0: wall-clock, 1: CPU time)."""
        first = WARMUP_INTERVALS + 1
        usable = (len(self.marks) - first) // len(PATTERN) * len(PATTERN)
        spans = [(self.marks[i][clock] - self.marks[i - 1][clock], self.measured[i]) for i in range(first, first + usable)]
        with_ = sum(d for d, m in spans if m)
        without = sum(d for d, m in spans if not m)
        return with_ / without if without > 0 else float("nan")


def paired_ratio(epochs: int, p: int = 113, states=None) -> tuple[float, float]:
    """One default-recipe run of ``epochs`` epochs timed by :class:`EveryOtherCheckpoint`: (wall, CPU) ratios."""
    from grokviz.analysis.live import for_run_config
    from grokviz.core.config import ModelConfig, TrainConfig
    from grokviz.core.data import SplitSpec
    from grokviz.core.tasks import Task
    from grokviz.core.training import Trainer

    task, split = Task("add", p), SplitSpec()
    timer = EveryOtherCheckpoint(for_run_config(task, split), states)
    Trainer(task, split, ModelConfig(p=p), TrainConfig(epochs=epochs, device="cpu", save_every_seconds=1e9),
            on_checkpoint=timer).run()
    return timer.ratio(0), timer.ratio(1)


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


def bench_live_progress_overhead(args, app=None, p: int = 113) -> dict:
    """The paired overhead ratios (module docstring); target: the whole-run bound ≤ 1.03."""
    if p != 113:
        raise ValueError("the live overhead is measured at p = 113 (the bundled example's grokked checkpoints)")
    quick = getattr(args, "quick", False)
    epochs, rounds = (600, 1) if quick else (1300, 3)  # 1 + 4·k intervals of 100 epochs
    states, remeasured = grokked_states(3 if quick else 8)
    own_wall, own_cpu = paired_ratio(epochs, p)
    grokked = [paired_ratio(epochs, p, states) for _ in range(rounds)]
    per_checkpoint = statistics.median(wall for wall, _ in grokked)
    per_checkpoint_cpu = statistics.median(cpu for _, cpu in grokked)
    ratio = 1 + (1 + remeasured) * (per_checkpoint - 1)
    return {"ok": ratio <= OVERHEAD_TARGET, "ratio": ratio, "cpu_ratio": 1 + (1 + remeasured) * (per_checkpoint_cpu - 1),
            "grokked_ratio": per_checkpoint, "grokked_ratios": [wall for wall, _ in grokked],
            "grokked_cpu_ratios": [cpu for _, cpu in grokked], "own_ratio": own_wall, "own_cpu_ratio": own_cpu,
            "remeasured_fraction": remeasured, "epochs_per_run": epochs, "rounds": rounds, "p": p,
            "target": OVERHEAD_TARGET}
