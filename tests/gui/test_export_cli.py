"""``grokviz export``: the standard figure set, headless (issue 7)."""

import csv
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np

EXPECTED = ("01_loss_curves", "02_key_frequencies", "03_neuron_spectra", "04_symmetry", "05_resid_post_slice",
            "06_attention", "07_progress_measures")


CURVE_FIGURES = ("01_loss_curves", "04_symmetry", "05_resid_post_slice", "07_progress_measures")


def _csv_rows(path):
    with open(path) as f:
        return list(csv.reader(line for line in f if not line.startswith("#")))


def test_export_cli_headless(small_run_file, small_run, tmp_path):
    out = tmp_path / "figures"
    env = dict(os.environ)
    env.pop("QT_QPA_PLATFORM", None)  # the command must go offscreen by itself
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    env["PYTHONPATH"] = os.pathsep.join([os.getcwd(), env.get("PYTHONPATH", "")])
    result = subprocess.run([sys.executable, "-m", "grokviz", "export", str(small_run_file), "--out", str(out),
                             "--format", "png,svg", "--quiet"], capture_output=True, text=True, env=env, timeout=240)
    assert result.returncode == 0, result.stderr
    from PySide6 import QtGui

    for name in EXPECTED:
        for ext in (".png", ".svg", ".csv"):
            assert (out / (name + ext)).exists(), name + ext
        image = QtGui.QImage(str(out / f"{name}.png"))
        assert (image.width(), image.height()) == (1200, 800)
        pixels = np.array([image.pixel(x, y) & 0xFFFFFF for x in range(0, 1200, 9) for y in range(0, 800, 9)],
                          dtype=float)
        assert pixels.std() > 0 and (pixels != pixels[0]).mean() > 0.02, f"{name}.png looks blank"
        root = ET.parse(out / f"{name}.svg").getroot()
        paths = sum(el.tag.endswith("path") for el in root.iter())
        assert paths >= (2 if name in CURVE_FIGURES else 1), f"{name}.svg: {paths} <path> elements"
    index = (out / "index.html").read_text()
    assert all(f"{name}.png" in index for name in EXPECTED)
    # CSVs hold the plotted numbers
    losses = _csv_rows(out / "01_loss_curves.csv")
    assert losses[0] == ["epoch", "train loss", "test loss"]
    np.testing.assert_allclose([float(r[1]) for r in losses[1:]], small_run.history.train_loss)
    symmetry = _csv_rows(out / "04_symmetry.csv")
    assert symmetry[1][1] == "hook_embed" and [r[1] for r in symmetry[-2:]] == ["blocks.0.hook_resid_post", "logits"]
    progress = _csv_rows(out / "07_progress_measures.csv")
    assert progress[0][:3] == ["epoch", "train_loss", "test_loss"]
    assert [float(r[0]) for r in progress[1:]] == [float(e) for e in small_run.epochs]


def test_export_cli_options(small_run_file, tmp_path, capsys):
    from grokviz.cli import main

    out = tmp_path / "svg_only"
    assert main(["export", str(small_run_file), "--out", str(out), "--format", "svg", "--checkpoint", "390",
                 "--quiet"]) == 0
    assert (out / "04_symmetry.svg").exists() and not (out / "04_symmetry.png").exists()
    assert "nearest, 400" in capsys.readouterr().err
    assert "epoch 400" in (out / "index.html").read_text().lower()
    assert main(["export", str(small_run_file), "--out", str(out), "--format", "gif"]) == 2
