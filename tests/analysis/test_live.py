"""Live progress measures: computed at each checkpoint while training, stored, read back, reused."""

import math

import pytest

from tests.conftest import SMALL_DIMS


def _train_with_live(tmp_path, epochs=600, p=23):
    from grokviz.analysis.live import for_run_config, saving_with_progress
    from grokviz.core.config import ModelConfig, TrainConfig
    from grokviz.core.data import SplitSpec
    from grokviz.core.runfile import save_run
    from grokviz.core.tasks import Task
    from grokviz.core.training import Trainer

    task, split = Task("add", p), SplitSpec(frac_train=0.5)
    out = tmp_path / "live.pt"
    seen = []
    live = for_run_config(task, split, on_record=seen.append)
    trainer = Trainer(task, split, ModelConfig(p=p, **SMALL_DIMS),
                      TrainConfig(epochs=epochs, checkpoint_every=100, eval_every=10, device="cpu"),
                      on_checkpoint=live, on_save=saving_with_progress(live, lambda run: save_run(run, out)))
    return trainer.run(), out, seen


def _close(a, b):
    if isinstance(a, dict):
        return set(map(str, a)) == set(map(str, b)) and all(_close(v, b.get(k, b.get(str(k)))) for k, v in a.items())
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-5, abs=1e-9)
    return a == b


def test_live_measures_are_stored_and_equal_recomputed(tmp_path, monkeypatch):
    from grokviz.analysis import progress
    from grokviz.analysis.live import key_freqs_of
    from grokviz.analysis.progress import ProgressSetup, measure_model, progress_measures
    from grokviz.core.runfile import load_run

    run, out, seen = _train_with_live(tmp_path)
    assert [r["epoch"] for r in seen][:7] == [0, 100, 200, 300, 400, 500, 600]  # one per checkpoint, live
    loaded = load_run(out)
    assert [r["epoch"] for r in loaded.progress] == loaded.epochs
    final_keys = key_freqs_of(loaded.state_dict())
    assert all(r["key_freqs"] == final_keys for r in loaded.progress)  # finalized at the final key frequencies
    train_rows, test_rows = loaded.indices()
    setup = ProgressSetup.build(loaded.task, train_rows, test_rows, final_keys)
    for record in loaded.progress:
        recomputed = measure_model(setup, loaded.state_dict(record["epoch"]))
        assert _close({k: v for k, v in record.items() if k not in ("epoch", "key_freqs", "definition")}, recomputed), record["epoch"]
    # reading them back: nothing is recomputed
    monkeypatch.setattr(progress, "measure_model", lambda *a: pytest.fail("recomputed a stored measure"))
    table = progress_measures(loaded)
    assert table.complete and list(table.epochs) == loaded.epochs
    assert table.columns["restricted_loss"][-1] == loaded.progress[-1]["restricted_loss"]
    from grokviz.analysis.session import RunSession

    session = RunSession(loaded)  # the app's and analyze's path: the registered reports
    assert list(session.report("progress").table.epochs) == loaded.epochs
    assert session.report("measures", loaded.epochs[1])["excluded_loss"] == loaded.progress[1]["excluded_loss"]


def test_other_key_frequencies_and_runs_without_stored_measures_compute(tmp_path):
    from grokviz.analysis.progress import progress_measures
    from grokviz.core.runfile import load_run, save_run

    run, out, _ = _train_with_live(tmp_path, epochs=200)
    loaded = load_run(out)
    other = [1, 2] if loaded.progress[0]["key_freqs"] != [1, 2] else [3]
    table = progress_measures(loaded, key_freqs=other)  # not stored at these: computed, then kept
    assert table.complete and all(r["key_freqs"] == other for r in loaded.progress)
    loaded.progress = None
    plain = tmp_path / "plain.pt"
    save_run(loaded, plain)
    bare = load_run(plain)
    assert bare.progress is None  # absent entry tolerated
    assert progress_measures(bare).complete and bare.progress is not None


def test_cli_train_stores_measures_and_convert_keeps_them(tmp_path):
    from grokviz.cli import main
    from grokviz.core.runfile import load_run

    out, converted = tmp_path / "cli.pt", tmp_path / "converted.pt"
    dims = ["--d-model", "32", "--n-heads", "2", "--d-head", "16", "--d-mlp", "64"]
    assert main(["train", "--task", "add", "--p", "13", "--epochs", "60", "--checkpoint-every", "20",
                 "--frac-train", "0.5", "--device", "cpu", "--out", str(out), *dims]) == 0
    run = load_run(out)
    assert [r["epoch"] for r in run.progress] == [0, 20, 40, 60]
    assert main(["convert", str(out), str(converted)]) == 0
    assert load_run(converted).progress == run.progress
    bare = tmp_path / "bare.pt"
    assert main(["train", "--task", "add", "--p", "13", "--epochs", "20", "--checkpoint-every", "20",
                 "--device", "cpu", "--out", str(bare), "--no-progress-measures", *dims]) == 0
    assert load_run(bare).progress is None
