"""The benchmark machinery itself, at tiny sizes (the real numbers come from ``grokviz bench``)."""

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


def test_train_bench_reports_medians_of_rounds():
    from grokviz.bench.train import measure_modulus

    row = measure_modulus(11, rounds=3, quick=True)
    rounds = row["rounds"]
    assert all(len(values) == 3 for values in rounds.values())
    assert row["grokviz_ms"] == sorted(rounds["grokviz_ms"])[1]
    assert row["ratio"] == sorted(rounds["ratio"])[1]  # the median of per-round ratios, not a ratio of medians
    for naive, fast, ratio in zip(rounds["naive_ms"], rounds["grokviz_ms"], rounds["ratio"]):
        assert ratio == naive / fast
