"""``grokviz export A B --out DIR``: every figure of the run export with both runs side by side (issue 16, item 7)."""

import csv

import numpy as np
import pytest

from grokviz.cli import main

FIGURES = ("01_loss_curves", "02_key_frequencies", "03_neuron_spectra", "04_symmetry", "05_resid_post_slice",
           "06_attention", "07_progress_measures", "08_clock_pizza", "09_embedding_circles", "10_learned_epochs",
           "11_training_dynamics")


def _rows(path):
    with open(path) as f:
        lines = f.read().splitlines()
    return [line for line in lines if line.startswith("#")], list(csv.reader(l for l in lines if not l.startswith("#")))


def _busy(image, x0, x1):
    """Share of sampled pixels in columns [x0, x1) that are not the background (white)."""
    pixels = np.array([image.pixel(x, y) & 0xFFFFFF for x in range(x0, x1, 11) for y in range(0, image.height(), 11)])
    return float((pixels != 0xFFFFFF).mean())


def test_export_two_runs_writes_paired_figures_and_both_csvs(small_run_file, small_run, other_run_file, tmp_path):
    from PySide6 import QtGui

    from grokviz.core.runfile import load_run

    other = load_run(other_run_file)
    out = tmp_path / "paired"
    assert main(["export", str(small_run_file), str(other_run_file), "--out", str(out), "--format", "png",
                 "--max-checkpoints", "3", "--quiet"]) == 0
    for name in FIGURES:
        image = QtGui.QImage(str(out / f"{name}.png"))
        assert (image.width(), image.height()) == (2400, 860), name
        assert _busy(image, 0, 1200) > 0.005 and _busy(image, 1200, 2400) > 0.005, f"{name}.png: a half is blank"
        assert list(out.glob(f"{name}_a*.csv")) and list(out.glob(f"{name}_b*.csv")), name
    assert not (out / "01_loss_curves.svg").exists()  # png only, as asked
    # each side's CSV holds its own run's numbers, and says which run it is
    comments_a, losses_a = _rows(out / "01_loss_curves_a.csv")
    comments_b, losses_b = _rows(out / "01_loss_curves_b.csv")
    np.testing.assert_allclose([float(r[1]) for r in losses_a[1:]], small_run.history.train_loss)
    np.testing.assert_allclose([float(r[1]) for r in losses_b[1:]], other.history.train_loss)
    assert "small.pt" in comments_a[0] and "epoch 800" in comments_a[0] and "other.pt" in comments_b[0]
    _, learned_b = _rows(out / "10_learned_epochs_b_ca.csv")
    assert len(learned_b) == 1 + other.p  # B's own [c, a] grid (p = 17), not A's (p = 23)
    assert (out / "06_attention_a_summary.csv").exists() and (out / "06_attention_b.csv").exists()
    index = (out / "index.html").read_text()
    assert all(f"{name}.png" in index for name in FIGURES) and "other.pt" in index and "small.pt" in index


@pytest.mark.parametrize("second, words", [("missing.pt", "no such file"), ("DIR", "directory"),
                                           ("BAD", "bad.pt")])
def test_a_bad_second_path_is_one_line_and_exit_2(small_run_file, tmp_path, capsys, second, words):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a run" * 20)
    path = {"missing.pt": tmp_path / "missing.pt", "DIR": tmp_path, "BAD": bad}[second]
    capsys.readouterr()
    assert main(["export", str(small_run_file), str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out" / "01_loss_curves.png").exists()


def test_animate_takes_one_run(small_run_file, other_run_file, tmp_path, capsys):
    assert main(["export", str(small_run_file), str(other_run_file), "--out", str(tmp_path), "--animate", "circles"]) == 2
    assert "--animate takes one run" in capsys.readouterr().err


def _column(path, name):
    _, rows = _rows(path)
    column = rows[0].index(name)
    return np.array([float(row[column]) for row in rows[1:]])


def test_fraction_pairing_shows_b_at_the_same_stage_of_training(small_run_file, other_run_file, tmp_path, capsys):
    """A (800 epochs, a checkpoint every 200) at 400 = 50 % pairs with B (300 epochs, every 50) at 150 —
    not at 300, B's checkpoint nearest epoch 400, which same-epoch pairing picks."""
    from grokviz.analysis.session import session_of
    from grokviz.core.runfile import load_run

    out = tmp_path / "fraction"
    assert main(["export", str(small_run_file), str(other_run_file), "--out", str(out), "--format", "png",
                 "--checkpoint", "400", "--pair", "fraction", "--max-checkpoints", "3", "--quiet"]) == 0
    assert "other.pt: epoch 150 pairs with small.pt's epoch 400 (same fraction of training)" in capsys.readouterr().err
    pairing = "epoch 400 (50 %) vs 150 (50 %), paired by the same fraction of training"
    for side, epoch in (("a", 400), ("b", 150)):
        comments, _ = _rows(out / f"02_key_frequencies_{side}.csv")
        assert f"epoch {epoch}; A and B: {pairing}" in comments[0]
    # B's numbers are B's at epoch 150 (the same report the app shows), not at its epoch 300
    session = session_of(load_run(other_run_file))
    norms = _column(out / "02_key_frequencies_b.csv", "W_E")
    np.testing.assert_allclose(norms, session.report("spectrum", 150).norms["W_E"], rtol=1e-6)
    assert not np.allclose(norms, session.report("spectrum", 300).norms["W_E"], rtol=1e-3)
    index = (out / "index.html").read_text()
    assert "Checkpoints: epoch 400 (50 %) vs 150 (50 %) (paired by the same fraction of training)." in index
    assert "Key frequencies" in index and "A and B, epoch 400 (50 %) vs 150 (50 %)" in index


def test_an_unknown_pairing_is_one_line_and_exit_2(small_run_file, other_run_file, tmp_path, capsys):
    with pytest.raises(SystemExit) as raised:
        main(["export", str(small_run_file), str(other_run_file), "--out", str(tmp_path / "out"), "--pair", "stage"])
    err = capsys.readouterr().err.strip()
    assert raised.value.code == 2 and len(err.splitlines()) == 1
    assert "--pair: invalid choice: 'stage' (choose from 'epoch', 'fraction')" in err
    assert not (tmp_path / "out").exists()


def test_pairing_one_run_is_one_line_and_exit_2(small_run_file, tmp_path, capsys):
    assert main(["export", str(small_run_file), "--out", str(tmp_path / "out"), "--pair", "fraction", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "grokviz export: --pair pairs RUN_B's checkpoints with RUN's; give two run files"
    assert not (tmp_path / "out").exists()
