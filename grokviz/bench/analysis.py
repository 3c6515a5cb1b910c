"""``grokviz bench analysis``: activation-cache time and progress measures for 250 checkpoints at p = 113.

A synthetic 250-checkpoint run (a random p = 113 model of the default shape, perturbed along a
fixed direction per checkpoint) is measured with :mod:`grokviz.analysis.progress`; the
baseline is the original notebook's method — a full ``run_with_cache`` per checkpoint and the
cos-coefficients from a [p/2, p, p, p] cos cube — timed on a few checkpoints and scaled to 250.
Peak memory is the peak RSS of a fresh child process that opens the run file (written here,
float32 checkpoints) and does the 250-checkpoint pass: Python, torch, the loaded run and the
working memory (the progress path imports neither Qt nor TransformerLens).
``progress_end_to_end_s``: ``grokviz analyze RUN --report progress`` from process start to exit on a
freshly trained 100-checkpoint run (which stores its progress measures, :mod:`grokviz.analysis.live`),
against the notebook method for the same checkpoints measured in the same run.
"""

from __future__ import annotations

import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import torch

from grokviz.core.progressbar import log

TARGET_CACHE_SECONDS = 0.5
TARGET_PROGRESS_SECONDS = 10.0
TARGET_PEAK_MB = 600.0
N_CHECKPOINTS = 250
END_TO_END_CHECKPOINTS = 100
TARGET_END_TO_END_SPEEDUP = 40.0
MAINLINE_KEY_FREQS = (14, 35, 41, 42, 52)
_INTERPRETER_START = time.perf_counter()  # a child sets it to its own start (notebook_end_to_end)


def synthetic_run(p: int = 113, n_checkpoints: int = N_CHECKPOINTS, seed: int = 0):
    """A Run with ``n_checkpoints`` perturbed copies of a random default-shape model (add mod p)."""
    from grokviz.core.config import ModelConfig, TrainConfig
    from grokviz.core.data import SplitSpec
    from grokviz.core.history import History
    from grokviz.core.model import GrokTransformer
    from grokviz.core.run import Run
    from grokviz.core.tasks import Task

    cfg = ModelConfig(p=p)
    base = GrokTransformer(cfg).state_dict()
    generator = torch.Generator().manual_seed(seed)
    direction = {k: torch.randn(v.shape, generator=generator) * 0.02 if v.is_floating_point() and v.dim() > 0 else None
                 for k, v in base.items()}
    checkpoints = []
    for i in range(n_checkpoints):
        scale = math.sin(i / 7.0)
        checkpoints.append({k: (torch.add(v, direction[k], alpha=scale) if direction[k] is not None else v)
                            for k, v in base.items()})
    epochs = [100 * (i + 1) for i in range(n_checkpoints)]
    history = History.from_columns(epoch=epochs, train_loss=[1.0] * n_checkpoints, test_loss=[1.0] * n_checkpoints,
                                   train_acc=[0.0] * n_checkpoints, test_acc=[0.0] * n_checkpoints)
    return Run(Task("add", p), cfg, TrainConfig(epochs=epochs[-1]), SplitSpec(), history, epochs[:-1],
               checkpoints[:-1], checkpoints[-1], epochs[-1])


def _time(fn, repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def cache_seconds(run, repeats: int = 3) -> tuple[float, float]:
    """(best wall seconds, CPU seconds of that repeat) of a full all-hook cache of the final model."""
    from grokviz.analysis.cache import CheckpointActivations

    model = run.model()
    CheckpointActivations(model, None, 512 << 20)
    best = (float("inf"), 0.0)
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        CheckpointActivations(model, None, 512 << 20)
        best = min(best, (time.perf_counter() - start, time.process_time() - cpu))
    return best


def notebook_seconds_per_checkpoint(run, key_freqs, n: int = 3, with_cube_seconds: bool = False):
    """The notebook's way: full run_with_cache per checkpoint + cos cube + loss recomputation
    (seconds per checkpoint; with ``with_cube_seconds``, also the time to build the cube once)."""
    from grokviz.core.data import all_tokens

    p = run.p
    a = torch.arange(p)[:, None, None]
    b = torch.arange(p)[None, :, None]
    c = torch.arange(p)[None, None, :]
    cube_began = time.perf_counter()
    cube = []
    for k in range(1, p // 2 + 1):
        wave = torch.cos(2 * math.pi * k / p * (a + b - c))
        cube.append(wave / wave.norm())
    cube = torch.stack(cube)  # [p/2, p, p, p] (~323 MB at p = 113)
    cube_seconds = time.perf_counter() - cube_began
    tokens, labels = all_tokens(p), run.labels()
    train_rows, test_rows = run.indices()
    epochs = run.epochs[:n]
    start = time.perf_counter()
    for epoch in epochs:
        model = run.model(epoch)
        with torch.no_grad():
            logits, cache = model.run_with_cache(tokens)
            logits = logits[:, -1]
            post = cache["blocks.0.mlp.hook_post"][:, -1]
            torch.nn.functional.cross_entropy(logits[test_rows].double(), labels[test_rows])
            (cube * logits.reshape(p, p, p)[None]).sum((-3, -2, -1))
            for k in key_freqs:  # per-frequency projections over the inputs, as in the notebook
                wave = torch.cos(2 * math.pi * k * (torch.arange(p)[:, None] + torch.arange(p)[None]) / p).reshape(-1, 1)
                wave = wave / wave.norm()
                post = post - (post * wave).sum(0) * wave
            (post @ model.blocks[0].mlp.W_out @ model.unembed.W_U)
    per_checkpoint = (time.perf_counter() - start) / len(epochs)
    return (per_checkpoint, cube_seconds) if with_cube_seconds else per_checkpoint


def peak_rss_kb() -> int:
    """This process's peak resident set (VmHWM; ``ru_maxrss`` survives fork + exec from a big parent)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def bench_key_freqs(p: int) -> list:
    """Nanda's mainline key frequencies at p = 113; the lowest ones (≤ 5) at any other p."""
    return list(MAINLINE_KEY_FREQS) if p == 113 else list(range(1, min(5, p // 2) + 1))


def _progress_child(path: str, threads: int) -> dict:
    """In a fresh interpreter: open the run file and compute every progress measure (design.md §6)."""
    torch.set_num_threads(threads)
    import grokviz
    from grokviz.analysis.progress import progress_measures

    run = grokviz.load_run(path)
    loaded_kb = peak_rss_kb()
    start, cpu_start = time.perf_counter(), time.process_time()
    table = progress_measures(run, key_freqs=bench_key_freqs(run.p))
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    peak_kb = peak_rss_kb()
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "peak_mb": peak_kb / 1024,
            "loaded_run_mb": loaded_kb / 1024, "peak_above_loaded_run_mb": (peak_kb - loaded_kb) / 1024,
            "checkpoints": len(table.epochs), "transformer_lens_imported": "transformer_lens" in sys.modules}


def progress_in_child(p: int = 113, n_checkpoints: int = N_CHECKPOINTS, threads: int | None = None) -> dict:
    """Write a synthetic run file, then time the progress measures in a fresh interpreter
    (so its peak RSS is its own: Python, torch, the loaded run and the working memory)."""
    from grokviz.core.runfile import save_run

    threads = threads or torch.get_num_threads()
    with tempfile.TemporaryDirectory(prefix="grokviz-bench-") as folder:
        path = os.path.join(folder, "synthetic.pt")
        save_run(synthetic_run(p, n_checkpoints), path)
        code = ("import json; from grokviz.bench.analysis import _progress_child; "
                f"print(json.dumps(_progress_child({path!r}, {int(threads)})))")
        output = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def _notebook_child(path: str, checkpoints: int) -> dict:
    """In a fresh interpreter, the notebook's way from the start: import torch and
    TransformerLens, load the run, build the cos cube, then measure ``checkpoints`` checkpoints
    (:func:`notebook_seconds_per_checkpoint`). Setup is timed from interpreter start."""
    import transformer_lens  # noqa: F401  (the notebook's import, part of its start-up)

    import grokviz

    run = grokviz.load_run(path)
    setup = time.perf_counter() - _INTERPRETER_START  # cube building is inside the per-checkpoint call
    per_checkpoint, cube_seconds = notebook_seconds_per_checkpoint(run, bench_key_freqs(run.p), checkpoints,
                                                                   with_cube_seconds=True)
    return {"setup_seconds": setup + cube_seconds, "seconds_per_checkpoint": per_checkpoint}


def notebook_end_to_end(path: str, checkpoints: int, measured: int = 3) -> dict:
    """The notebook method end to end for ``checkpoints`` checkpoints of the run at ``path``:
    its measured start-up (process, imports, load, cos cube) plus ``measured`` checkpoints timed
    and scaled to ``checkpoints``."""
    from grokviz.training_process import child_environment

    code = ("import time; _t = time.perf_counter(); import grokviz.bench.analysis as b; "
            "b._INTERPRETER_START = _t; import json; "
            f"print(json.dumps(b._notebook_child({path!r}, {int(measured)})))")
    began = time.perf_counter()
    output = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                            timeout=3600, env=child_environment()).stdout
    child = json.loads(output.strip().splitlines()[-1])
    launch = time.perf_counter() - began - child["setup_seconds"] - child["seconds_per_checkpoint"] * measured
    seconds = max(launch, 0.0) + child["setup_seconds"] + child["seconds_per_checkpoint"] * checkpoints
    return {"seconds": seconds, **child}


def progress_end_to_end(p: int = 113, n_checkpoints: int = END_TO_END_CHECKPOINTS, repeats: int = 3) -> dict:
    """``grokviz analyze RUN --report progress`` on a freshly trained run of ``n_checkpoints``
    checkpoints, timed from process start to exit, against the notebook method end to end on the
    same file (:func:`notebook_end_to_end`). ``grokviz train`` stores the progress measures while
    it trains (:mod:`grokviz.analysis.live`), so analyze reads them from the file without loading
    the run or importing torch (:func:`grokviz.analysis.reports.progress.read_stored`).
    ``full_analysis_s``: ``grokviz analyze RUN --progress`` (the whole final
    checkpoint's analysis as well: symmetry over every hook, attention, …), for reference."""
    from grokviz.training_process import child_environment

    every = 10
    epochs = every * (n_checkpoints - 1)  # checkpoints at 0, 10, …, epochs
    with tempfile.TemporaryDirectory(prefix="grokviz-bench-") as folder:
        path = os.path.join(folder, "fresh.pt")
        began = time.perf_counter()
        subprocess.run([sys.executable, "-m", "grokviz", "train", "--task", "add", "--p", str(p), "--epochs", str(epochs),
                        "--checkpoint-every", str(every), "--out", path, "--device", "cpu", "--save-every", "1e9"],
                       check=True, capture_output=True, text=True, timeout=3600, env=child_environment())
        train_s = time.perf_counter() - began

        def timed(*options) -> tuple[float, str]:
            began = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "grokviz", "analyze", path, *options, "--json"],
                                  check=True, capture_output=True, text=True, timeout=3600, env=child_environment())
            return time.perf_counter() - began, done.stdout

        runs, notebook = [], []
        for _ in range(repeats):  # interleaved, so both see the same drift of the VM
            seconds, stdout = timed("--report", "progress")
            runs.append(seconds)
            notebook.append(notebook_end_to_end(path, n_checkpoints)["seconds"])
        rows = len(json.loads(stdout)["table"]["epochs"])
        full, _ = timed("--progress")
    speedups = [n / r for n, r in zip(notebook, runs)]
    return {"seconds": statistics.median(runs), "runs_s": runs, "checkpoints": rows, "train_seconds": train_s,
            "epochs": epochs, "notebook_s": statistics.median(notebook), "notebook_runs_s": notebook,
            "speedup": statistics.median(speedups), "speedups": speedups, "full_analysis_s": full}


def run_benchmark(args) -> dict:
    quick = bool(getattr(args, "quick", False))
    p = int(str(getattr(args, "p", None) or 113).split(",")[0])
    threads = torch.get_num_threads()
    log(f"analysis bench: p = {p}, {N_CHECKPOINTS} checkpoints, {threads} torch threads")
    run = synthetic_run(p, 4)
    cache, cache_cpu = cache_seconds(run, 1 if quick else 3)
    log(f"  full activation cache: {cache:.3f} s ({cache_cpu:.3f} s CPU)")
    progress = progress_in_child(p, N_CHECKPOINTS, threads)
    log(f"  progress measures: {progress['seconds']:.2f} s ({progress['cpu_seconds']:.2f} s CPU, {threads} threads), "
        f"peak RSS {progress['peak_mb']:.0f} MB (run file loaded: {progress['loaded_run_mb']:.0f} MB)")
    baseline = notebook_seconds_per_checkpoint(run, bench_key_freqs(p), 2 if quick else 3)
    log(f"  notebook method: {baseline:.2f} s per checkpoint → {baseline * N_CHECKPOINTS:.0f} s for {N_CHECKPOINTS}")
    end_to_end = progress_end_to_end(p, repeats=1 if quick else 3)
    log(f"  analyze --report progress, {end_to_end['checkpoints']} checkpoints of a fresh run, end to end: "
        f"{end_to_end['seconds']:.2f} s (notebook method end to end {end_to_end['notebook_s']:.0f} s: "
        f"{end_to_end['speedup']:.0f}×); whole analyze --progress {end_to_end['full_analysis_s']:.1f} s")
    end_to_end_speedup = end_to_end["speedup"]
    result = {
        "progress_end_to_end_s": round(end_to_end["seconds"], 3),
        "progress_end_to_end_runs_s": [round(v, 3) for v in end_to_end["runs_s"]],
        "progress_end_to_end_checkpoints": end_to_end["checkpoints"],
        "progress_end_to_end_notebook_s": round(end_to_end["notebook_s"], 1),
        "progress_end_to_end_notebook_runs_s": [round(v, 1) for v in end_to_end["notebook_runs_s"]],
        "progress_end_to_end_speedup": round(end_to_end_speedup, 1),
        "progress_end_to_end_speedups": [round(v, 1) for v in end_to_end["speedups"]],
        "progress_end_to_end_train_s": round(end_to_end["train_seconds"], 1),
        "full_analysis_with_progress_s": round(end_to_end["full_analysis_s"], 2),
        "p": p,
        "checkpoints": N_CHECKPOINTS,
        "cache_seconds": round(cache, 4),
        "cache_cpu_seconds": round(cache_cpu, 4),
        "progress_seconds": round(progress["seconds"], 3),
        "progress_cpu_seconds": round(progress["cpu_seconds"], 3),
        "load_average": list(__import__("os").getloadavg()),
        "progress_peak_rss_mb": round(progress["peak_mb"], 1),
        "progress_rss_with_run_loaded_mb": round(progress["loaded_run_mb"], 1),
        "progress_peak_above_loaded_run_mb": round(progress["peak_above_loaded_run_mb"], 1),
        "baseline_seconds_per_checkpoint": round(baseline, 3),
        "baseline_seconds_scaled": round(baseline * N_CHECKPOINTS, 1),
        "speedup": round(baseline * N_CHECKPOINTS / max(progress["seconds"], 1e-9), 1),
        "targets": {"cache_seconds": TARGET_CACHE_SECONDS, "progress_seconds": TARGET_PROGRESS_SECONDS,
                    "peak_mb": TARGET_PEAK_MB, "progress_end_to_end_speedup": TARGET_END_TO_END_SPEEDUP},
    }
    result["ok"] = (cache <= TARGET_CACHE_SECONDS and progress["seconds"] <= TARGET_PROGRESS_SECONDS
                    and progress["peak_mb"] <= TARGET_PEAK_MB and end_to_end_speedup >= TARGET_END_TO_END_SPEEDUP)
    return result
