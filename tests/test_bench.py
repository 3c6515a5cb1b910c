"""The benchmark machinery itself, at tiny sizes (the real numbers come from ``grokviz bench``)."""

import statistics
import time

import pytest

from grokviz.bench.analysis import peak_rss_kb, progress_in_child
from grokviz.bench.train import floor_ms_per_epoch, grokviz_ms_per_epoch, naive_ms_per_epoch
from grokviz.core.tasks import Task


def test_progress_child_reads_a_run_file_without_transformer_lens():
    result = progress_in_child(p=11, n_checkpoints=3, threads=1)
    assert result["checkpoints"] == 3
    assert not result["transformer_lens_imported"]
    assert 0 < result["loaded_run_mb"] <= result["peak_mb"] < 2000
    assert result["seconds"] > 0


def test_peak_rss_is_this_process():
    assert 10_000 < peak_rss_kb() < 8_000_000


def test_train_bench_parts_run():
    task = Task("add", 11)
    assert naive_ms_per_epoch(task, 2, warmup=1) > 0
    assert grokviz_ms_per_epoch(task, 10, warmup=10) > 0
    floor, gflop, throughput = floor_ms_per_epoch(task)
    assert floor > 0 and gflop > 0 and throughput > 0


def test_train_bench_reports_medians_of_interleaved_windows():
    from grokviz.bench.train import measure_modulus

    row = measure_modulus(11, rounds=2, quick=True)
    assert row["windows"] >= 6  # at least 3 per round
    assert all(len(values) == 2 for values in row["rounds"].values())
    assert row["naive_ms"] > 0 and row["grokviz_ms"] > 0 and row["floor_ms"] > 0
    samples = row["window_samples"]
    assert len(samples) == row["windows"]
    # ratios are medians of per-window ratios (a, b and c measured seconds apart), not ratios of medians
    assert row["ratio"] == statistics.median(s["naive_ms"] / s["grokviz_ms"] for s in samples)
    assert row["floor_distance"] == statistics.median(s["grokviz_ms"] / s["floor_ms"] for s in samples)


def test_interleaved_windows_time_only_the_trainer():
    from grokviz.bench.train import interleaved_windows

    calls = []

    def slow_probe():
        calls.append(1)
        time.sleep(1.0)  # outside the windows: counted, it would add ~100 ms per epoch
        return 1.0

    windows = interleaved_windows(Task("add", 7), windows=3, warmup=10, naive=None, probe=slow_probe)
    assert len(windows) == 3 == len(calls)
    assert all(window["floor_ms"] == 1.0 for window in windows)
    # against the same windows with an instant probe (a ratio, not a wall-clock bound: the VM drifts)
    baseline = interleaved_windows(Task("add", 7), windows=3, warmup=10, naive=None, probe=lambda: 1.0)
    slow = sorted(window["grokviz_ms"] for window in windows)[1]
    fast = sorted(window["grokviz_ms"] for window in baseline)[1]
    assert slow < fast + 50.0


def test_live_overhead_pairs_intervals_with_and_without_the_measures(monkeypatch):
    """The overhead bench's arithmetic: measures in the ABBA pattern, Σ(with) ÷ Σ(without)."""
    from grokviz.gui import live_overhead_bench as bench

    clock = [0.0]
    measured = []

    class Live:
        def measure(self, epoch, state):
            measured.append((epoch, state))
            clock[0] += 1.0  # each measure costs 1 s

    monkeypatch.setattr(bench.time, "perf_counter", lambda: clock[0])
    timer = bench.EveryOtherCheckpoint(Live(), states=["g0", "g1", "g2"])
    monkeypatch.setattr(bench.time, "process_time", lambda: clock[0] / 2)
    for checkpoint in range(11):  # epoch 0, a warm-up interval, then 9 intervals of 10 s of training
        if checkpoint:
            clock[0] += 10.0
        timer(100 * checkpoint, f"own{checkpoint}")
    assert [e for e, _ in measured] == [200, 500, 600, 900, 1000]  # with, without, without, with, …
    assert all(state.startswith("g") for _, state in measured)  # the grokked arm's states, in turn
    assert timer.ratio() == pytest.approx(11.0 / 10.0)  # two whole groups of four intervals
    assert timer.ratio(1) == pytest.approx(11.0 / 10.0)
    assert timer.measure_time() == pytest.approx(1.0) and timer.interval_without() == pytest.approx(10.0)


def test_live_overhead_paired_run_measures_the_real_trainer():
    from grokviz.gui.live_overhead_bench import paired_run

    run = paired_run(500, p=13)  # warm-up, then 4 intervals: measures after the 1st and the 4th
    assert len(run.measure_seconds) == 2 and 0 < run.measure_time() < run.interval_without()
    assert 0.5 < run.ratio(0) < 3.0 and 0.5 < run.ratio(1) < 3.0

