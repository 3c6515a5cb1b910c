"""Sweeps end to end: index contents, failure isolation, resume after a kill, Ray = local."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from grokviz.core.runfile import load_run
from grokviz.sweep.index import read_index
from grokviz.sweep.runner import Sweep
from grokviz.sweep.spec import SweepSpec

ROOT = Path(__file__).resolve().parents[2]
TINY = dict(task="pow", p=11, frac_train=0.5, d_model=16, n_heads=2, d_head=8, d_mlp=32, eval_every=10,
            checkpoint_every=50, grokfast=True)


def _spec(**extra):
    return SweepSpec.from_mapping({**TINY, **extra})


def _same_weights(path_a, path_b):
    a, b = load_run(path_a), load_run(path_b)
    assert a.epochs_trained == b.epochs_trained
    assert a.final_state_dict.keys() == b.final_state_dict.keys()
    for key in a.final_state_dict:
        assert torch.equal(a.final_state_dict[key], b.final_state_dict[key]), key
    assert torch.equal(torch.as_tensor(a.history.test_loss), torch.as_tensor(b.history.test_loss))


@pytest.fixture(scope="module")
def pool_sweep(tmp_path_factory):
    """A 2 × 2 sweep over (m, n) through the process pool (2 workers)."""
    out = tmp_path_factory.mktemp("pool")
    sweep = Sweep(_spec(m="1..2", n="1..2", epochs=60), out, workers=2, quiet=True)
    records = sweep.run()
    return out, records


def test_pool_sweep_index(pool_sweep):
    out, records = pool_sweep
    assert [r["status"] for r in records] == ["finished"] * 4
    index = read_index(out)
    cells = index["cells"]
    assert [(c["m"], c["n"]) for c in cells] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    for cell in cells:
        assert cell["epochs_done"] == 60 and cell["device"] == "cpu" and cell["error"] == ""
        assert 0 <= cell["test_acc"] <= 1 and cell["train_loss"] > 0 and cell["wall_time"] > 0
        run = load_run(out / cell["file"])
        assert run.task.m == cell["m"] and run.task.n == cell["n"] and run.status == "finished"
        assert cell["test_loss"] == pytest.approx(run.history.last()["test_loss"])
    csv_lines = (out / "index.csv").read_text().splitlines()
    assert csv_lines[0].startswith("name,task,m,n,p,seed") and len(csv_lines) == 5
    assert index["spec"]["m"] == [1, 2]
    # a second run skips everything
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("*.pt")}
    again = Sweep(_spec(m="1..2", n="1..2", epochs=60), out, workers=2, quiet=True).run()
    assert [r["status"] for r in again] == ["finished"] * 4
    assert mtimes == {p.name: p.stat().st_mtime_ns for p in out.glob("*.pt")}


def test_failing_cell_is_recorded_and_others_finish(tmp_path):
    spec = SweepSpec.from_mapping({**TINY, "task": "div", "p": [9, 11], "epochs": 20})
    sweep = Sweep(spec, tmp_path, workers=1, quiet=True)
    records = sweep.run()
    assert [r["status"] for r in records] == ["failed", "finished"]
    assert records[0]["error"] == "p: div needs a prime modulus, 9 is not prime"
    assert sweep.status == "failed"
    index = json.loads((tmp_path / "index.json").read_text())
    assert index["cells"][0]["status"] == "failed" and "not prime" in index["cells"][0]["error"]
    assert not (tmp_path / "div_p9_seed999_data598.pt").exists()


def test_resume_after_kill(tmp_path):
    """Kill the sweep process mid-run; the re-run keeps finished cells and equals an uninterrupted sweep."""
    args = ["--task", "pow", "--m", "1..2", "--n", "1", "--p", "11", "--epochs", "700", "--frac-train", "0.5",
            "--d-model", "16", "--n-heads", "2", "--d-head", "8", "--d-mlp", "32", "--checkpoint-every", "50",
            "--grokfast", "--save-every", "0.1", "--workers", "1", "--quiet"]
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-m", "grokviz", "sweep", *args, "--out", str(out)], env=env,
                               start_new_session=True)
    second = out / "pow_m2_n1_p11_seed999_data598.pt"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and not second.exists():  # first cell finished, second saved once
            assert process.poll() is None, "the sweep finished before it could be killed"
            time.sleep(0.05)
        assert second.exists()
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    first = out / "pow_m1_n1_p11_seed999_data598.pt"
    partial = load_run(second)
    assert load_run(first).status == "finished" and partial.status == "running" and partial.epochs_trained < 700
    first_mtime = first.stat().st_mtime_ns

    torch.set_num_threads(1)
    spec = SweepSpec.from_mapping({**TINY, "m": "1..2", "n": 1, "epochs": 700, "save_every": 0.1})
    records = Sweep(spec, out, workers=1, quiet=True).run()
    assert [r["status"] for r in records] == ["finished", "finished"]
    assert first.stat().st_mtime_ns == first_mtime  # not retrained
    reference = tmp_path / "reference"
    Sweep(spec, reference, workers=1, quiet=True).run()
    for name in (first.name, second.name):
        _same_weights(out / name, reference / name)


@pytest.mark.slow
def test_ray_matches_local(pool_sweep, tmp_path):
    ray = pytest.importorskip("ray")
    out, _ = pool_sweep
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        spec = _spec(m="1..2", n=1, epochs=60)
        sweep = Sweep(spec, tmp_path, executor="ray", quiet=True)
        records = sweep.run()
    finally:
        ray.shutdown()
    assert [r["status"] for r in records] == ["finished", "finished"]
    for record in records:
        _same_weights(tmp_path / record["file"], out / record["file"])


def test_a_diverged_cell_is_failed_with_its_reason_not_pending(tmp_path):
    """Training that reached a non-finite loss stops with status "diverged" and a note; the sweep
    records the cell as failed (resuming it would diverge again), never as pending."""
    from dataclasses import replace

    from grokviz.core.runfile import save_run

    spec = _spec(epochs=20)
    first = Sweep(spec, tmp_path, workers=1, quiet=True).run()
    path = tmp_path / first[0]["file"]
    diverged = replace(load_run(path), status="diverged", notes=["loss became non-finite at epoch 12"])
    save_run(diverged, path)
    again = Sweep(spec, tmp_path, workers=1, quiet=True).run()
    assert [(r["status"], r["error"]) for r in again] == [("failed", "loss became non-finite at epoch 12")]
    assert load_run(path).status == "diverged"  # left alone
