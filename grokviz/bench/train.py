"""``grokviz bench train``: (a) the notebook's naive loop, (b) the grokviz trainer, (c) the FLOP floor.

(a) full-sequence hooked forward + backward every epoch and the test loss every epoch, as the
original notebooks; (b) :class:`Trainer` with its defaults (evaluation every 10 epochs included);
(c) the FLOPs of one epoch of (b) — forward + backward of the last-position computation of
design.md §2 on the training inputs, plus a forward on the test inputs every 10th epoch —
divided by the matmul throughput measured here on the step's fastest matmul shape (best of
3 timings). (c) counts every multiply-add as a matmul at full speed, so it is a strict floor.

Each modulus is measured in rounds of (a), (b), (c) back to back; the report gives medians of
the times and of the per-round ratios (this VM's speed drifts by ±20 % within minutes).
"""

from __future__ import annotations

import math
import statistics
import time

import torch

from grokviz.bench import log
from grokviz.core.config import ModelConfig, TrainConfig
from grokviz.core.data import SplitSpec, all_tokens, split_indices
from grokviz.core.fastpath import fast_path_flops
from grokviz.core.model import GrokTransformer
from grokviz.core.perf import tune_allocator
from grokviz.core.tasks import Task
from grokviz.core.training import Trainer, cross_entropy_float64

TARGET_RATIO = 10.0
TARGET_FLOOR_DISTANCE = 2.0


def naive_ms_per_epoch(task: Task, epochs: int, warmup: int = 2) -> float:
    """The original notebooks' loop (full hooked forward on all positions, test loss every epoch)."""
    cfg = ModelConfig(p=task.p)
    model = GrokTransformer(cfg)
    model.freeze_biases()
    train_rows, test_rows = split_indices(task, SplitSpec())
    tokens, labels = all_tokens(task.p), task.labels()
    train_data, train_labels = tokens[train_rows], labels[train_rows]
    test_data, test_labels = tokens[test_rows], labels[test_rows]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3,
                                  weight_decay=1.0, betas=(0.9, 0.98))
    train_losses, test_losses = [], []
    started = None
    for epoch in range(warmup + epochs):
        if epoch == warmup:
            started = time.perf_counter()
        train_loss = cross_entropy_float64(model(train_data)[:, -1], train_labels)
        train_loss.backward()
        train_losses.append(train_loss.item())
        optimizer.step()
        optimizer.zero_grad()
        with torch.inference_mode():
            test_losses.append(cross_entropy_float64(model(test_data)[:, -1], test_labels).item())
    return (time.perf_counter() - started) / epochs * 1000


def grokviz_ms_per_epoch(task: Task, epochs: int, warmup: int = 20) -> float:
    """The grokviz trainer with its defaults (CPU here), timed between two progress reports."""
    stamps = {}
    epochs = max(10, epochs // 10 * 10)  # timed between two evaluations (every 10 epochs)

    def on_progress(progress):
        stamps[progress.epoch] = time.perf_counter()

    config = TrainConfig(epochs=warmup + epochs + 1, device="auto")
    Trainer(task, SplitSpec(), ModelConfig(p=task.p), config, on_progress=on_progress).run()
    first, last = warmup, warmup + epochs
    return (stamps[last] - stamps[first]) / (last - first) * 1000


def matmul_gflops(rows: int, inner: int, cols: int, repeats: int = 30) -> float:
    """Measured matmul throughput (GFLOP/s) for one [rows, inner] @ [inner, cols] shape."""
    left, right = torch.randn(rows, inner), torch.randn(inner, cols)
    for _ in range(3):
        left @ right
    best = math.inf
    for _ in range(3):
        began = time.perf_counter()
        for _ in range(repeats):
            left @ right
        best = min(best, (time.perf_counter() - began) / repeats)
    return 2 * rows * inner * cols / best / 1e9


def floor_ms_per_epoch(task: Task) -> tuple[float, float, float]:
    """(floor ms/epoch, GFLOP per epoch, measured GFLOP/s) for the trainer's default recipe."""
    cfg = ModelConfig(p=task.p)
    train_rows, test_rows = split_indices(task, SplitSpec())
    defaults = TrainConfig()
    flops = fast_path_flops(cfg, len(train_rows)) + fast_path_flops(cfg, len(test_rows)) / 3 / defaults.eval_every
    throughput = matmul_gflops(len(train_rows), cfg.d_model, cfg.d_mlp)
    return flops / throughput / 1e6, flops / 1e9, throughput


def measure_modulus(p: int, rounds: int, quick: bool) -> dict:
    """(a), (b) and (c) at one p, ``rounds`` times in turn; medians of the times and of the per-round ratios.

    This VM's speed drifts by ±20 % over seconds to minutes, so each ratio compares measurements
    taken back to back (one round), and the medians ignore a round caught by a slow spell.
    """
    task = Task("add", p)
    scale = (113 / p) ** 2  # similar seconds per measurement at every p (epoch cost grows ~p²)
    naive_epochs = min(max(3, int((6 if quick else 15) * scale)), 100)
    fast_epochs = min(max(20, int((60 if quick else 150) * scale)), 1000)
    naive, fast, floor, ratio, distance = [], [], [], [], []
    gflop = throughput = 0.0
    for round_ in range(rounds):
        log(f"p = {p}, round {round_ + 1}/{rounds}: naive loop ({naive_epochs} epochs), "
            f"grokviz trainer ({fast_epochs} epochs), floor…")
        naive.append(naive_ms_per_epoch(task, naive_epochs))
        fast.append(grokviz_ms_per_epoch(task, fast_epochs))
        floor_ms, gflop, throughput = floor_ms_per_epoch(task)
        floor.append(floor_ms)
        ratio.append(naive[-1] / fast[-1])
        distance.append(fast[-1] / floor_ms)
    return {"p": p, "naive_ms": statistics.median(naive), "grokviz_ms": statistics.median(fast), "floor_ms": statistics.median(floor),
            "ratio": statistics.median(ratio), "floor_distance": statistics.median(distance), "gflop_per_epoch": gflop,
            "matmul_gflops": throughput, "rounds": {"naive_ms": naive, "grokviz_ms": fast, "floor_ms": floor,
                                                     "ratio": ratio, "floor_distance": distance}}


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
        print(f"medians of {rounds} round(s); ratios are medians of per-round ratios")
        print(f"{'p':>5} {'naive ms':>10} {'grokviz ms':>11} {'floor ms':>9} {'ratio a/b':>10} {'b/floor':>8} {'ms ∝ p^k':>9}")
        for r in rows:
            growth = f"{r['growth_exponent']:.2f}" if "growth_exponent" in r else "—"
            print(f"{r['p']:>5} {r['naive_ms']:>10.1f} {r['grokviz_ms']:>11.2f} {r['floor_ms']:>9.2f} "
                  f"{r['ratio']:>10.1f} {r['floor_distance']:>8.2f} {growth:>9}")
        if rounds > 1:
            for r in rows:
                spread = r["rounds"]
                print(f"p = {r['p']}, per round: ratio a/b {min(spread['ratio']):.1f}–{max(spread['ratio']):.1f}, "
                      f"b/floor {min(spread['floor_distance']):.2f}–{max(spread['floor_distance']):.2f}")
        if at_113:
            print(f"targets at p = 113 (medians): ratio ≥ {TARGET_RATIO:g} ({'met' if at_113['ratio'] >= TARGET_RATIO else 'MISSED'}), "
                  f"within {TARGET_FLOOR_DISTANCE:g}× of the floor "
                  f"({'met' if at_113['floor_distance'] <= TARGET_FLOOR_DISTANCE else 'MISSED'})")
    return {"benchmark": "train", "device": "cpu" if not torch.cuda.is_available() else "cuda",
            "threads": torch.get_num_threads(), "rounds": rounds, "rows": rows, "ok": ok}
