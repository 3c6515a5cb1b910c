"""``grokviz export SWEEP_DIR`` exits 0, not 139 (issue 18, item 9: teardown order, gui/offscreen.py).

Before the fix about half of the runs segfaulted at exit, after writing their files; the crash
depends on the address order of the wrappers, so several independent processes are run.
"""

import json
import os
import shutil
import subprocess
import sys

RUNS = 4


def _sweep_dir(directory, run_file):
    cells = []
    for seed in (1, 2):
        for data_seed in (1, 2):
            name = f"add_p23_seed{seed}_data{data_seed}"
            shutil.copy(run_file, directory / f"{name}.pt")
            cells.append({"name": name, "task": "add", "m": 1, "n": 1, "p": 23, "seed": seed, "data_seed": data_seed,
                          "status": "finished", "grokked_epoch": 100 * seed + data_seed, "test_acc": 1.0,
                          "test_loss": 0.01, "epochs": 800, "epochs_done": 800, "wall_time": 1.0, "error": "",
                          "file": f"{name}.pt"})
    (directory / "index.json").write_text(json.dumps({"format": "grokviz-sweep", "format_version": 1, "cells": cells}))


def test_sweep_export_exits_cleanly_every_time(tmp_path, small_run_file):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    _sweep_dir(sweep, small_run_file)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    processes = [subprocess.Popen([sys.executable, "-m", "grokviz", "export", str(sweep), "--out",
                                   str(tmp_path / f"out{i}"), "--quiet"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for i in range(RUNS)]
    results = [(process.wait(timeout=180), process.stderr.read()) for process in processes]
    assert [code for code, _ in results] == [0] * RUNS, results
    for i in range(RUNS):
        assert (tmp_path / f"out{i}" / "sweep_grokked_epoch.png").stat().st_size > 1000
