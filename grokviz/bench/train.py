"""``grokviz bench train``: (a) the notebook's naive loop, (b) the grokviz trainer, (c) the FLOP floor.

(a) full-sequence hooked forward + backward every epoch and the test loss every epoch, as the
original notebooks; (b) :class:`Trainer` with its defaults (evaluation every 10 epochs included);
(c) the FLOPs of one epoch of (b) — forward + backward of the last-position computation of
design.md §2 on the training inputs, plus a forward on the test inputs every 10th epoch —
divided by the matmul throughput measured here on the step's fastest matmul shape (best of
3 bursts). (c) counts every multiply-add as a matmul at full speed, so it is a strict floor.

This VM's speed drifts by ±20 % within seconds to minutes, so the three are measured
interleaved: the trainer runs, and between each window of 10 epochs (one evaluation each) one
naive epoch and one throughput burst are timed (their time is not counted in the window).
Every window gives a ratio a/b and a distance b/floor from measurements seconds apart; the
report gives medians over all windows of all rounds (one trainer run per round).
"""

from __future__ import annotations

import math
import statistics
import time

import torch

from grokviz.core.progressbar import log
from grokviz.core.config import ModelConfig, TrainConfig
from grokviz.core.data import SplitSpec, all_tokens, split_indices
from grokviz.core.lastpos import fast_path_flops
from grokviz.core.model import GrokTransformer
from grokviz.core.perf import tune_allocator
from grokviz.core.tasks import Task
from grokviz.core.engines import cross_entropy_float64
from grokviz.core.training import Trainer

TARGET_RATIO = 10.0
TARGET_FLOOR_DISTANCE = 2.0
_MEASURES = ("naive_ms", "grokviz_ms", "floor_ms", "ratio", "floor_distance")


class NaiveLoop:
    """The original notebooks' loop: full hooked forward on all positions, test loss every epoch."""

    def __init__(self, task: Task):
        self.model = GrokTransformer(ModelConfig(p=task.p))
        self.model.freeze_biases()
        train_rows, test_rows = split_indices(task, SplitSpec())
        tokens, labels = all_tokens(task.p), task.labels()
        self.train_data, self.train_labels = tokens[train_rows], labels[train_rows]
        self.test_data, self.test_labels = tokens[test_rows], labels[test_rows]
        self.optimizer = torch.optim.AdamW([p for p in self.model.parameters() if p.requires_grad], lr=1e-3,
                                           weight_decay=1.0, betas=(0.9, 0.98))
        self.train_losses, self.test_losses = [], []

    def epoch_ms(self) -> float:
        """Run one epoch; its wall time in ms."""
        began = time.perf_counter()
        train_loss = cross_entropy_float64(self.model(self.train_data)[:, -1], self.train_labels)
        train_loss.backward()
        self.train_losses.append(train_loss.item())
        self.optimizer.step()
        self.optimizer.zero_grad()
        with torch.inference_mode():
            self.test_losses.append(cross_entropy_float64(self.model(self.test_data)[:, -1], self.test_labels).item())
        return (time.perf_counter() - began) * 1000


def naive_ms_per_epoch(task: Task, epochs: int, warmup: int = 2) -> float:
    """(a) alone: mean ms/epoch of the naive loop after ``warmup`` epochs."""
    loop = NaiveLoop(task)
    for _ in range(warmup):
        loop.epoch_ms()
    return sum(loop.epoch_ms() for _ in range(epochs)) / epochs


def grokviz_ms_per_epoch(task: Task, epochs: int, warmup: int = 20) -> float:
    """(b) alone: ms/epoch of the grokviz trainer with its defaults (CPU here)."""
    windows = interleaved_windows(task, max(1, epochs // TrainConfig().eval_every), warmup, naive=None, probe=None)
    return statistics.mean(window["grokviz_ms"] for window in windows)


def matmul_gflops(rows: int, inner: int, cols: int, repeats: int = 30, tries: int = 3) -> float:
    """Measured matmul throughput (GFLOP/s) for one [rows, inner] @ [inner, cols] shape: best of ``tries`` bursts."""
    left, right = torch.randn(rows, inner), torch.randn(inner, cols)
    for _ in range(3):
        left @ right
    best = math.inf
    for _ in range(tries):
        began = time.perf_counter()
        for _ in range(repeats):
            left @ right
        best = min(best, (time.perf_counter() - began) / repeats)
    return 2 * rows * inner * cols / best / 1e9


def floor_gflop_and_shape(task: Task) -> tuple[float, tuple[int, int, int]]:
    """(GFLOP per epoch of the trainer's default recipe, the step's fastest matmul shape)."""
    cfg = ModelConfig(p=task.p)
    train_rows, test_rows = split_indices(task, SplitSpec())
    flops = fast_path_flops(cfg, len(train_rows)) + fast_path_flops(cfg, len(test_rows)) / 3 / TrainConfig().eval_every
    return flops / 1e9, (len(train_rows), cfg.d_model, cfg.d_mlp)


def floor_ms_per_epoch(task: Task) -> tuple[float, float, float]:
    """(c) alone: (floor ms/epoch, GFLOP per epoch, measured GFLOP/s)."""
    gflop, shape = floor_gflop_and_shape(task)
    throughput = matmul_gflops(*shape)
    return gflop / throughput * 1000, gflop, throughput


def interleaved_windows(task: Task, windows: int, warmup: int, naive: NaiveLoop | None, probe) -> list[dict]:
    """Run the trainer for ``warmup`` + ``windows`` × eval_every epochs; one dict per timed window.

    At each progress report (one per evaluation) the window since the previous report is timed
    (b); then one naive epoch (a, if ``naive``) and ``probe()`` (c's ms/epoch, if given) run,
    outside any window.
    """
    every = TrainConfig().eval_every
    warmup = -(-warmup // every) * every
    samples: list[dict] = []
    state = {"epoch": None, "resumed": 0.0}

    def on_progress(progress) -> None:
        now, epoch = time.perf_counter(), progress.epoch
        if epoch % every or epoch == state["epoch"]:
            return  # the report after the last epoch
        if state["epoch"] is not None and epoch > warmup:
            sample = {"grokviz_ms": (now - state["resumed"]) / (epoch - state["epoch"]) * 1000}
            if naive is not None:
                sample["naive_ms"] = naive.epoch_ms()
            if probe is not None:
                sample["floor_ms"] = probe()
            samples.append(sample)
        elif naive is not None and epoch == warmup:
            naive.epoch_ms()  # the naive loop's own warm-up
        state["epoch"], state["resumed"] = epoch, time.perf_counter()

    config = TrainConfig(epochs=warmup + windows * every + 1, device="auto")
    Trainer(task, SplitSpec(), ModelConfig(p=task.p), config, on_progress=on_progress).run()
    return samples


def measure_modulus(p: int, rounds: int, quick: bool) -> dict:
    """(a), (b) and (c) at one p, interleaved (module docstring), in ``rounds`` trainer runs.

    Medians over all windows; ``rounds`` holds each round's medians (the spread between rounds).
    """
    task = Task("add", p)
    scale = (113 / p) ** 2  # similar seconds per measurement at every p (epoch cost grows ~p²)
    windows = min(max(3, int((5 if quick else 15) * scale)), 40)
    gflop, shape = floor_gflop_and_shape(task)
    throughputs = []

    def probe() -> float:
        throughputs.append(matmul_gflops(*shape, repeats=10))
        return gflop / throughputs[-1] * 1000

    pooled: list[dict] = []
    per_round = {key: [] for key in _MEASURES}
    for round_ in range(rounds):
        log(f"p = {p}, round {round_ + 1}/{rounds}: grokviz trainer, {windows} windows of 10 epochs, "
            f"each followed by one naive epoch and one matmul burst…")
        samples = interleaved_windows(task, windows, warmup=20, naive=NaiveLoop(task), probe=probe)
        for sample in samples:
            sample["ratio"] = sample["naive_ms"] / sample["grokviz_ms"]
            sample["floor_distance"] = sample["grokviz_ms"] / sample["floor_ms"]
        pooled += samples
        for key in _MEASURES:
            per_round[key].append(statistics.median(sample[key] for sample in samples))
    row = {"p": p, "windows": len(pooled), "gflop_per_epoch": gflop, "matmul_gflops": statistics.median(throughputs),
           "rounds": per_round, "window_samples": pooled}
    row.update({key: statistics.median(sample[key] for sample in pooled) for key in _MEASURES})
    return row


def run_benchmark(args) -> dict:
    tune_allocator()
    moduli = [int(p) for p in (args.p or "59,113,227").split(",")]
    quick = getattr(args, "quick", False)
    rounds = getattr(args, "rounds", None) or (1 if quick else 3)
    rows = [measure_modulus(p, rounds, quick) for p in moduli]
    for previous, row in zip(rows, rows[1:]):
        row["growth_exponent"] = math.log(row["grokviz_ms"] / previous["grokviz_ms"]) / math.log(row["p"] / previous["p"])
    at_113 = next((r for r in rows if r["p"] == 113), None)
    ok = at_113 is None or (at_113["ratio"] >= TARGET_RATIO and at_113["floor_distance"] <= TARGET_FLOOR_DISTANCE)
    if not args.json:
        counts = ", ".join(f"{r['windows']} at p = {r['p']}" for r in rows)
        print(f"medians over windows of 10 epochs ({counts}; {rounds} round(s)); in each window a, b and c "
              "are measured seconds apart, and the ratios are medians of per-window ratios")
        print(f"{'p':>5} {'naive ms':>10} {'grokviz ms':>11} {'floor ms':>9} {'ratio a/b':>10} {'b/floor':>8} {'ms ∝ p^k':>9}")
        for r in rows:
            growth = f"{r['growth_exponent']:.2f}" if "growth_exponent" in r else "—"
            print(f"{r['p']:>5} {r['naive_ms']:>10.1f} {r['grokviz_ms']:>11.2f} {r['floor_ms']:>9.2f} "
                  f"{r['ratio']:>10.1f} {r['floor_distance']:>8.2f} {growth:>9}")
        if rounds > 1:
            for r in rows:
                spread = r["rounds"]
                print(f"p = {r['p']}, round medians: ratio a/b {min(spread['ratio']):.1f}–{max(spread['ratio']):.1f}, "
                      f"b/floor {min(spread['floor_distance']):.2f}–{max(spread['floor_distance']):.2f}")
        if at_113:
            print(f"targets at p = 113 (medians): ratio ≥ {TARGET_RATIO:g} ({'met' if at_113['ratio'] >= TARGET_RATIO else 'MISSED'}), "
                  f"within {TARGET_FLOOR_DISTANCE:g}× of the floor "
                  f"({'met' if at_113['floor_distance'] <= TARGET_FLOOR_DISTANCE else 'MISSED'})")
    return {"benchmark": "train", "device": "cpu" if not torch.cuda.is_available() else "cuda",
            "threads": torch.get_num_threads(), "rounds": rounds, "rows": rows, "ok": ok}
