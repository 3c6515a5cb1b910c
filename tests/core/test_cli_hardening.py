"""Issue 18, saves / parameters / CLI output: every bad input is one line and exit 2, nothing is lost.

Most cases call ``grokviz.cli.main`` in-process (it returns the exit status); the few where the
process itself matters (signals, kills, resource limits) run real subprocesses.
"""

import json
import math
import os
import random
import resource
import signal
import subprocess
import sys
import time

import pytest
import torch

from grokviz.cli import main
from grokviz.core.atomic import SaveError, atomic_write, remove_stale_temps, temp_name
from grokviz.core.runfile import load_run, save_run

DIMS = ["--d-model", "32", "--n-heads", "2", "--d-head", "16", "--d-mlp", "64"]


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and "|" not in line]  # progress bars aside
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def temps(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp"))


# -- saves ------------------------------------------------------------------------------------

def test_files_respect_the_umask(tmp_path, small_run):
    old = os.umask(0o027)
    try:
        save_run(small_run, tmp_path / "run.pt")
    finally:
        os.umask(old)
    assert (tmp_path / "run.pt").stat().st_mode & 0o777 == 0o640


def test_free_space_is_checked_before_writing(tmp_path):
    import shutil

    target = tmp_path / "big.pt"
    target.write_bytes(b"old")
    free = shutil.disk_usage(tmp_path).free
    with pytest.raises(SaveError, match="disk full") as raised:
        with atomic_write(target, expected_size=free + 2**40) as stream:
            stream.write(b"never")
    assert "\n" not in str(raised.value)
    assert target.read_bytes() == b"old" and temps(tmp_path) == []


def test_stale_temps_only_of_dead_writers_are_removed(tmp_path):
    target = tmp_path / "run.pt"
    live = temp_name(target)  # this process: alive
    live.write_bytes(b"x")
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    dead = tmp_path / live.name.replace(f".{os.getpid()}.", f".{child.pid}.")
    dead.write_bytes(b"x")
    foreign = [tmp_path / ".gone.pt.abcdefgh.tmp", tmp_path / "notes.tmp", tmp_path / ".other.tmp"]
    for path in foreign:  # not ours, or an old-style temp without its target file next to it
        path.write_bytes(b"x")
    target.write_bytes(b"run")
    old_style = tmp_path / ".run.pt.k2j_9xq0.tmp"  # tempfile.mkstemp's name, as grokviz used to make
    old_style.write_bytes(b"x")
    old_style_open = tmp_path / ".run.pt.abcdefgh.tmp"
    with open(old_style_open, "wb") as still_writing:
        still_writing.write(b"x")
        assert sorted(remove_stale_temps(tmp_path)) == sorted([dead, old_style])
    assert live.exists() and old_style_open.exists() and all(path.exists() for path in foreign)


def _save_forever(run, path):  # the child: save, save, save… until killed
    try:
        while True:
            save_run(run, path)
    finally:
        os._exit(0)


def test_sigkill_mid_save_leaves_no_litter_after_the_next_save(tmp_path, small_run):
    """Kill a writer again and again: the file is always a complete run, and the next save
    removes every temp file the kills left."""
    path = tmp_path / "run.pt"
    save_run(small_run, path)
    rng = random.Random(18)
    littered = 0
    for _ in range(10):
        pid = os.fork()
        if pid == 0:
            _save_forever(small_run, path)
        time.sleep(rng.uniform(0.05, 0.3))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        littered += bool(temps(tmp_path))
        assert load_run(path).epochs_trained == small_run.epochs_trained  # old or new, never torn
    assert littered >= 3, "the kills should land mid-save"
    save_run(small_run, path)
    assert temps(tmp_path) == []
    assert load_run(path).epochs_trained == small_run.epochs_trained


def test_a_failed_save_falls_back_and_keeps_the_run(tmp_path, small_run, monkeypatch, capsys):
    import tempfile

    from grokviz.cli import _saver

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    saver = _saver(tmp_path / "gone" / "run.pt")  # its directory does not exist (any more)
    saver(small_run)
    err = capsys.readouterr().err.splitlines()
    assert saver.path is not None and saver.path.parent == tmp_path
    assert load_run(saver.path).epochs_trained == small_run.epochs_trained
    assert "directory does not exist" in err[0] and "instead" in err[-1] and str(saver.path) in err[-1]


def test_a_full_file_limit_is_one_line_per_failure_and_no_litter(tmp_path, small_run_file):
    """RLIMIT_FSIZE makes every write fail mid-file (EFBIG), as a full disk does after the check;
    ``convert`` runs in a forked child (its own limit and exit status, no interpreter start-up)."""
    (tmp_path / "tmp").mkdir()
    log = tmp_path / "stderr.txt"
    pid = os.fork()
    if pid == 0:  # the child: limited, stderr to a file, exit with main()'s status
        try:
            import tempfile

            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            tempfile.tempdir = str(tmp_path / "tmp")
            with open(log, "w") as err:
                os.dup2(err.fileno(), 2)
                sys.stderr = os.fdopen(2, "w", buffering=1)
                resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
                code = main(["convert", str(small_run_file), str(tmp_path / "out.pt")])
                sys.stderr.flush()
        except BaseException:  # noqa: BLE001 - a traceback is the failure the parent reports
            import traceback

            traceback.print_exc()
            code = 99
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    err = log.read_text()
    assert os.waitstatus_to_exitcode(status) == 1 and "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 4 and all("too large" in line for line in lines[:3]) and "anywhere" in lines[3], lines
    assert not (tmp_path / "out.pt").exists() and temps(tmp_path) == [] and temps(tmp_path / "tmp") == []


# -- no silent replacement, resume -------------------------------------------------------------

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    path = tmp_path_factory.mktemp("resume") / "run.pt"
    assert main(["train", "--task", "mul", "--p", "7", "--epochs", "20", "--checkpoint-every", "10",
                 "--out", str(path), "--device", "cpu", *DIMS]) == 0
    return path


def test_train_refuses_to_replace_another_run(trained, capsys):
    before = trained.read_bytes()
    assert main(["train", "--task", "add", "--p", "7", "--epochs", "5", "--out", str(trained), *DIMS]) == 2
    assert "--force" in one_line(capsys)
    assert trained.read_bytes() == before


def test_convert_refuses_to_replace_without_force(trained, tmp_path, capsys):
    other = tmp_path / "other.pt"
    other.write_bytes(b"precious")
    assert main(["convert", str(trained), str(other)]) == 2
    assert "--force" in one_line(capsys) and other.read_bytes() == b"precious"
    assert main(["convert", str(trained), str(other), "--force"]) == 0
    assert load_run(other).task.name == "mul"


@pytest.mark.parametrize("options, named", [
    (["--lr", "0.01"], "--lr"),
    (["--weight-decay", "0.5"], "--weight-decay"),
    (["--d-model", "64"], "--d-model"),
    (["--task", "add"], "--task"),
    (["--task", "mul", "--p", "11"], "--p"),
])
def test_resume_refuses_conflicting_options(trained, options, named, capsys):
    assert main(["train", "--resume", str(trained), "--epochs", "30", *options]) == 2
    line = one_line(capsys)
    assert named in line and "--resume" in line


def test_resume_with_matching_options_is_fine(trained, tmp_path):
    out = tmp_path / "more.pt"
    assert main(["train", "--resume", str(trained), "--out", str(out), "--epochs", "30",
                 "--task", "mul", "--p", "7", "--d-model", "32"]) == 0
    assert load_run(out).epochs_trained == 30


@pytest.mark.parametrize("state", [{}, {"optimizer": {}}, {"optimizer": {"state": {}, "param_groups": []}}])
def test_an_empty_resume_state_is_an_error(trained, tmp_path, state, capsys):
    import dataclasses

    broken = tmp_path / "broken.pt"
    save_run(dataclasses.replace(load_run(trained), resume_state=state), broken)
    assert main(["train", "--resume", str(broken), "--epochs", "30"]) == 2
    line = one_line(capsys)
    assert "optimiser state" in line
    assert load_run(broken).epochs_trained == 20


# -- parameters ----------------------------------------------------------------------------------

@pytest.mark.parametrize("options, named", [
    (["--lr", "nan"], "lr"), (["--lr", "inf"], "lr"), (["--lr", "1e300"], "lr"), (["--lr", "0"], "lr"),
    (["--weight-decay", "inf"], "weight_decay"), (["--weight-decay", "-1"], "weight_decay"),
    (["--grokfast-lambda", "nan"], "grokfast_lambda"), (["--grokfast-alpha", "1"], "grokfast_alpha"),
    (["--seed", str(10**20)], "seed"), (["--data-seed", str(10**20)], "data_seed"), (["--seed", "-1"], "seed"),
    (["--save-every", "nan"], "save_every"),
    (["--p", "4000", "--d-model", "8192", "--d-mlp", "65536"], "GROKVIZ_MEMORY_BUDGET_GB"),
])
def test_bad_numbers_are_one_line_and_exit_2(options, named, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GROKVIZ_MEMORY_BUDGET_GB", "16")
    assert main(["train", "--task", "add", "--out", str(tmp_path / "x.pt"), *options]) == 2
    assert named in one_line(capsys)
    assert not (tmp_path / "x.pt").exists()


@pytest.mark.parametrize("out, says", [("", "empty"), ("/proc/x", "does not accept"), ("FILE/x.pt", "not a directory")])
def test_unwritable_out_is_refused_up_front(out, says, trained, capsys):
    out = out.replace("FILE", str(trained))
    assert main(["train", "--task", "add", "--p", "7", "--out", out]) == 2
    assert says in one_line(capsys)


def test_divergence_stops_and_keeps_the_last_finite_checkpoint(tmp_path, capsys):
    out = tmp_path / "diverged.pt"
    assert main(["train", "--task", "add", "--p", "13", "--epochs", "200", "--lr", "10", "--weight-decay", "100",
                 "--checkpoint-every", "10", "--out", str(out), "--device", "cpu", *DIMS]) == 1
    assert "diverged at epoch" in one_line(capsys)
    run = load_run(out)  # the file opens: every tensor in it is finite
    assert run.status == "diverged" and run.epochs_trained == run.checkpoint_epochs[-1] < 200
    assert all(torch.isfinite(t).all() for name, t in run.final_state_dict.items() if "IGNORE" not in name)
    assert run.resume_state is None  # its optimiser moments were no longer finite


# -- sweeps ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("options, says", [
    (["--p", "2..100000000", "--dry-run"], "99,999,999 values"),
    (["--seeds", "1..10000", "--data-seeds", "1..10000", "--dry-run"], "100,000,000 cells"),
    (["--p", "100000", "--quiet"], "at most"),
    (["--lr", "nan", "--quiet"], "finite"),
    (["--seeds", str(10**20), "--quiet"], "2**63"),
])
def test_sweep_sizes_and_values_are_checked_before_anything(options, says, tmp_path, capsys):
    began = time.perf_counter()
    assert main(["sweep", "--out", str(tmp_path / "sweep"), *options]) == 2
    assert says in one_line(capsys)
    assert time.perf_counter() - began < 5 and not (tmp_path / "sweep").exists()


def test_sweep_spec_file_range_is_checked_before_expansion(tmp_path, capsys):
    spec = tmp_path / "spec.toml"
    spec.write_text('p = "2..100000000"\nseeds = [1, 2]\n')
    assert main(["sweep", str(spec), "--out", str(tmp_path / "sweep"), "--dry-run"]) == 2
    assert "range" in one_line(capsys)


def test_sweep_cell_count_matches_the_grid():
    from grokviz.sweep.spec import SweepSpec

    spec = SweepSpec.from_mapping({"task": "add,pow", "m": "1..3", "n": [1, 2], "p": [7, 11], "epochs": 10})
    assert spec.cell_count() == len(spec.cells()) == 2 * (1 + 3 * 2)


# -- export ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("out", ["/proc/x", "FILE/sub", "FILE"])
def test_export_out_must_be_a_writable_directory(out, trained, capsys):
    assert main(["export", str(trained), "--out", out.replace("FILE", str(trained))]) == 2
    assert "--out" in one_line(capsys)


def test_export_max_checkpoints_must_be_positive(trained, tmp_path, capsys):
    with pytest.raises(SystemExit) as raised:
        main(["export", str(trained), "--out", str(tmp_path), "--max-checkpoints", "-3"])
    assert raised.value.code == 2 and "--max-checkpoints" in one_line(capsys)


# -- output ---------------------------------------------------------------------------------------

def test_info_json_is_strict_json_with_nulls_for_non_finite(tmp_path, small_run, capsys):
    import dataclasses

    history = small_run.history
    broken = dataclasses.replace(history, test_loss=history.test_loss.copy())
    broken.test_loss[-1] = math.nan
    path = tmp_path / "nan.pt"
    save_run(dataclasses.replace(small_run, history=broken), path)
    assert main(["info", str(path), "--json"]) == 0

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    info = json.loads(capsys.readouterr().out, parse_constant=refuse)
    assert info["test_loss"] is None and any("test_loss" in note and "null" in note for note in info["notes"])


def test_paths_in_messages_are_escaped(tmp_path, capsys):
    name = tmp_path / "evil\n\x1b[31mred.pt"
    assert main(["info", str(name)]) == 2
    line = one_line(capsys)
    assert "\x1b" not in line and "\\x1b[31m" in line and "\\n" in line


def test_sigint_during_start_up_is_one_line(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "grokviz", "info", "--example"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    time.sleep(0.4)  # importing torch takes longer than this
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    if process.returncode == 0:
        pytest.skip("the command finished before the signal")
    assert process.returncode == 130 and "Traceback" not in err
    assert err.strip().splitlines() == ["grokviz: error: interrupted"]
