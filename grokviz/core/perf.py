"""Process-level performance settings for CPU training."""

from __future__ import annotations

import ctypes
import sys
import threading
from contextlib import contextmanager

import torch

_tuned = False


def tune_allocator() -> bool:
    """Keep large tensor buffers in glibc's heap instead of fresh mmap'd pages.

    Every training step allocates and frees MB-sized activations; by default glibc returns them
    to the OS and page-faults them back in on the next step, which made elementwise ops (relu,
    its backward) ~8× slower than their memory bandwidth allows. Raising the mmap and trim
    thresholds removes those faults. No-op off glibc.
    """
    global _tuned
    if _tuned or not sys.platform.startswith("linux"):
        return _tuned
    try:
        libc = ctypes.CDLL("libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        _tuned = bool(libc.mallopt(M_MMAP_THRESHOLD, 256 * 1024 * 1024)) and bool(
            libc.mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024)
        )
    except (OSError, AttributeError):
        _tuned = False
    return _tuned


_threads_lock = threading.Lock()
_threads_users = 0
_threads_before = 0


@contextmanager
def torch_threads(count: int):
    """Run a block with torch's intra-op thread count set to ``count`` (process-wide).

    For work already split across Python threads: two of them each running two OpenMP threads
    on two cores oversubscribe badly. Nested or concurrent users share one setting; the
    previous count comes back when the last one leaves.
    """
    global _threads_users, _threads_before
    with _threads_lock:
        if _threads_users == 0:
            _threads_before = torch.get_num_threads()
            torch.set_num_threads(count)
        _threads_users += 1
    try:
        yield
    finally:
        with _threads_lock:
            _threads_users -= 1
            if _threads_users == 0:
                torch.set_num_threads(_threads_before)


def flush_denormals() -> bool:
    """Treat float32 denormals (|x| < 1.2e-38) as zero on this thread (x86 FTZ/DAZ; ARM FZ).

    Once a run has memorised, its losses are ~1e-7 and backward products underflow into
    denormals, which x86 handles ~100× slower: a full default run spent 61 ms/epoch late in
    training instead of 32 ms (measured). Threads created afterwards inherit the mode, so the
    CLI calls this first thing, the app at the start of every worker job (its window comes up
    before torch is imported), sweep workers per cell, and the trainer on its own thread.
    Values that small change nothing the app shows (losses ≥ 1e-38, weights far above).
    """
    return bool(torch.set_flush_denormal(True))
