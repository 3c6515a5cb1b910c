"""Run files: round trip, resume bit-identical, atomic saves under SIGKILL, CLI."""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

from grokviz.cli import main
from grokviz.core.config import ModelConfig, TrainConfig
from grokviz.core.data import SplitSpec
from grokviz.core.errors import RunFileError
from grokviz.core.runfile import FORMAT_VERSION, load_run, run_to_dict, save_run
from grokviz.core.tasks import Task
from grokviz.core.training import Trainer, TrainingControl
from tests.conftest import SMALL_DIMS

TINY = ModelConfig(p=11, **SMALL_DIMS)
SPLIT = SplitSpec(frac_train=0.5)


def test_round_trip(small_run, tmp_path):
    path = tmp_path / "run.pt"
    save_run(small_run, path)
    data = torch.load(path, weights_only=True)  # plain containers and tensors only
    assert data["format_version"] == FORMAT_VERSION
    loaded = load_run(path)
    assert loaded.task == small_run.task and loaded.model_config == small_run.model_config
    assert loaded.split == small_run.split and loaded.train_config == small_run.train_config
    assert loaded.checkpoint_epochs == small_run.checkpoint_epochs
    np.testing.assert_array_equal(loaded.history.test_loss, small_run.history.test_loss)
    for key, value in small_run.final_state_dict.items():
        assert torch.equal(loaded.final_state_dict[key], value)
    assert torch.equal(loaded.model(200)(loaded.tokens()), small_run.model(200)(small_run.tokens()))


def test_checkpoints_are_stacked_and_format_1_files_still_load(small_run, tmp_path):
    """Format 2 stores one [n_checkpoints, …] tensor per parameter; a format-1 file (a list of
    state dicts, as the bundled example and every earlier run were written) reads the same."""
    from grokviz.core.importers.checksum import KEY, checksum_entry

    data = run_to_dict(small_run)
    stack = data["checkpoint_stack"]
    assert "checkpoints" not in data and stack["embed.W_E"].shape[0] == len(small_run.checkpoint_epochs)
    old = {k: v for k, v in data.items() if k not in ("checkpoint_stack", KEY)}
    old["format_version"] = 1
    old["checkpoints"] = [{name: tensor[i].clone() for name, tensor in stack.items()}
                          for i in range(len(small_run.checkpoint_epochs))]
    old[KEY] = checksum_entry(old)
    torch.save(old, tmp_path / "v1.pt")
    save_run(small_run, tmp_path / "v2.pt")
    v1, v2 = load_run(tmp_path / "v1.pt"), load_run(tmp_path / "v2.pt")
    for epoch in small_run.checkpoint_epochs:
        for key, value in small_run.state_dict(epoch).items():
            assert torch.equal(v1.state_dict(epoch)[key], value) and torch.equal(v2.state_dict(epoch)[key], value)


def test_half_precision_storage_keeps_final_weights_exact(small_run, tmp_path):
    path = tmp_path / "half.pt"
    save_run(small_run, path, storage_dtype=torch.float16)
    loaded = load_run(path)
    assert loaded.checkpoints[1]["embed.W_E"].dtype == torch.float16
    assert loaded.state_dict(200)["embed.W_E"].dtype == torch.float32
    assert torch.equal(loaded.final_state_dict["embed.W_E"], small_run.final_state_dict["embed.W_E"])


def test_newer_format_version_is_a_clear_error(small_run, tmp_path):
    data = run_to_dict(small_run)
    data["format_version"] = FORMAT_VERSION + 1
    path = tmp_path / "future.pt"
    torch.save(data, path)
    with pytest.raises(RunFileError, match="newer than this grokviz"):
        load_run(path)


def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path):
    config = TrainConfig(epochs=80, checkpoint_every=20, device="cpu")
    whole = Trainer(Task("add", 11), SPLIT, TINY, config).run()

    control = TrainingControl()
    path = tmp_path / "part.pt"

    def stop_early(progress):
        if progress.epoch >= 30:
            control.cancel()

    part = Trainer(Task("add", 11), SPLIT, TINY, config, control=control, on_progress=stop_early,
                   on_save=lambda run: save_run(run, path)).run()
    assert part.status == "cancelled" and part.epochs_trained < 80
    resumed = Trainer(Task("add", 11), SPLIT, TINY, config, resume_from=load_run(path)).run()
    assert resumed.epochs_trained == 80 and resumed.status == "finished"
    for key, value in whole.final_state_dict.items():
        assert torch.equal(resumed.final_state_dict[key], value), key
    assert resumed.checkpoint_epochs == whole.checkpoint_epochs
    np.testing.assert_array_equal(resumed.history.epoch, whole.history.epoch)
    np.testing.assert_allclose(resumed.history.test_loss, whole.history.test_loss, rtol=0, atol=0)


def test_cli_train_then_resume(tmp_path, capsys):
    out = tmp_path / "cli.pt"
    dims = ["--d-model", "32", "--n-heads", "2", "--d-head", "16", "--d-mlp", "64"]
    assert main(["train", "--task", "sub", "--p", "7", "--epochs", "30", "--out", str(out), "--device", "cpu", *dims]) == 0
    assert load_run(out).epochs_trained == 30
    assert main(["train", "--resume", str(out), "--epochs", "50"]) == 0
    assert load_run(out).epochs_trained == 50
    assert main(["info", str(out), "--json"]) == 0
    import json

    info = json.loads(capsys.readouterr().out)
    for key in ("task", "p", "epochs", "train_loss", "test_loss", "train_acc", "test_acc", "grokked_epoch", "key_freqs"):
        assert key in info
    assert info["epochs"] == 50 and info["p"] == 7 and info["task"] == "sub"


@pytest.mark.parametrize("args, parameter", [
    (["--task", "add", "--p", "1"], "p"),
    (["--task", "div", "--p", "12"], "p"),
    (["--task", "pow", "--m", "0"], "m"),
    (["--task", "pow", "--n", "-2"], "n"),
    (["--task", "add", "--frac-train", "1.5"], "frac_train"),
    (["--task", "add", "--frac-train", "0"], "frac_train"),
    (["--task", "add", "--epochs", "0"], "epochs"),
    (["--task", "xor"], "task"),
    (["--task", "add", "--out", "/nonexistent-dir/x.pt"], "--out"),
])
def test_cli_bad_parameters_one_line_exit_2(args, parameter, tmp_path, capsys):
    code = main(["train", "--out", str(tmp_path / "x.pt"), *args])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and parameter in lines[0] and "Traceback" not in err


def test_cli_in_a_real_process_cuda_without_cuda(tmp_path):
    """One real process: exit status 2, one line, no traceback (the others run in-process)."""
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    result = subprocess.run([sys.executable, "-m", "grokviz", "train", "--task", "add", "--device", "cuda",
                             "--out", str(tmp_path / "x.pt")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "device" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


SAVER = textwrap.dedent("""
    import sys, torch
    from grokviz.core.runfile import load_run, save_run
    base = load_run(sys.argv[1])
    target = sys.argv[2]
    version = 0
    print("ready", flush=True)
    while True:
        version += 1
        base.notes[:] = [f"version {version}"]
        state = dict(base.final_state_dict)
        state["embed.W_E"] = torch.full_like(state["embed.W_E"], float(version % 7))
        base.final_state_dict = state
        save_run(base, target)
""")


@pytest.mark.slow
def test_killing_a_saving_process_never_leaves_a_broken_file(small_run_file, tmp_path):
    target = tmp_path / "target.pt"
    save_run(load_run(small_run_file), target)
    script = tmp_path / "saver.py"
    script.write_text(SAVER)
    rng = random.Random(0)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    versions = set()
    for attempt in range(8):
        process = subprocess.Popen([sys.executable, str(script), str(small_run_file), str(target)],
                                   stdout=subprocess.PIPE, env=env)
        assert process.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.0, 0.6))
        process.send_signal(signal.SIGKILL)
        process.wait()
        run = load_run(target)  # must always load: old or new, never broken
        value = float(run.final_state_dict["embed.W_E"][0, 0])
        # the version in the notes and the weights belong to the same save
        if run.notes and run.notes[0].startswith("version"):
            assert value == float(int(run.notes[0].split()[1]) % 7)
        versions.add(value)
        leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".target.pt.")]
        for leftover in leftovers:  # a killed save may leave its temp file, never a broken target
            leftover.unlink()
    assert len(versions) > 1  # the kills really landed at different moments
