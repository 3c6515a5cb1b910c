"""``grokviz bench sweep``: runs per hour of the local sweep executor against one-after-another.

The same tiny cells are trained twice into temporary directories: once sequentially in this
process (torch's default thread count, and again with one thread), once through the local executor's process pool (one
worker per core, one thread each). Wall times include everything a user waits for (process
start-up, run-file saves, the index). The batched-ensemble (one GPU) comparison needs CUDA;
without it the result says so.
"""

from __future__ import annotations

import os
import tempfile
import time

import torch

from grokviz.core.progressbar import log


def _spec(p: int, cells: int, epochs: int):
    from grokviz.sweep.spec import SweepSpec

    side = max(1, int(round(cells ** 0.5)))
    n_values = max(1, -(-cells // side))
    return SweepSpec.from_mapping({
        "task": "pow", "m": f"1..{side}", "n": f"1..{n_values}", "p": p, "epochs": epochs, "frac_train": 0.5,
        "d_model": 32, "n_heads": 2, "d_head": 16, "d_mlp": 64, "grokfast": True, "checkpoint_every": 100,
        "save_every": 20, "device": "cpu",
    })


def run_benchmark(args) -> dict:
    from grokviz.sweep.runner import Sweep

    quick = bool(getattr(args, "quick", False))
    p = int(str(getattr(args, "p", None) or "23").split(",")[0])
    workers = max(1, os.cpu_count() or 1)
    cells = 4 if quick else max(8, 4 * workers)
    epochs = 300 if quick else 1500
    spec = _spec(p, cells, epochs)
    count = len(spec.cells())
    result = {"benchmark": "sweep", "p": p, "cells": count, "epochs_per_cell": epochs, "workers": workers,
              "cpu_count": os.cpu_count(), "torch_threads_sequential": torch.get_num_threads(),
              "load_average_before": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}
    with tempfile.TemporaryDirectory(prefix="grokviz-bench-sweep-") as root:
        log(f"sweep bench: {count} cells × {epochs} epochs at p = {p}, sequential …")
        began = time.perf_counter()
        sequential = Sweep(spec, os.path.join(root, "sequential"), workers=1, quiet=True).run()
        sequential_seconds = time.perf_counter() - began
        log(f"  sequential: {sequential_seconds:.1f} s; sequential with 1 torch thread …")
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            began = time.perf_counter()
            single = Sweep(spec, os.path.join(root, "single"), workers=1, quiet=True).run()
            single_seconds = time.perf_counter() - began
        finally:
            torch.set_num_threads(threads)
        sequential += single
        log(f"  sequential (1 thread): {single_seconds:.1f} s; process pool ({workers} workers) …")
        began = time.perf_counter()
        pooled = Sweep(spec, os.path.join(root, "pool"), workers=workers, quiet=True).run()
        pool_seconds = time.perf_counter() - began
    ok = all(r["status"] == "finished" for r in sequential + pooled)
    result.update(
        sequential_seconds=round(sequential_seconds, 2),
        pool_seconds=round(pool_seconds, 2),
        sequential_runs_per_hour=round(count / sequential_seconds * 3600, 1),
        pool_runs_per_hour=round(count / pool_seconds * 3600, 1),
        speedup=round(sequential_seconds / pool_seconds, 2),
        sequential_1thread_seconds=round(single_seconds, 2),
        sequential_1thread_runs_per_hour=round(count / single_seconds * 3600, 1),
        speedup_vs_1thread=round(single_seconds / pool_seconds, 2),
        load_average_after=os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        ok=ok,
    )
    if torch.cuda.is_available():
        result["ensemble"] = "CUDA present: the batched-ensemble executor is not wired into the sweep runner yet"
    else:
        result["ensemble"] = "skipped: no CUDA device (the batched ensemble is a one-GPU executor)"
    log(f"  pool: {pool_seconds:.1f} s → {result['pool_runs_per_hour']} runs/h vs "
        f"{result['sequential_runs_per_hour']} runs/h sequential (×{result['speedup']}); {result['ensemble']}")
    return result
