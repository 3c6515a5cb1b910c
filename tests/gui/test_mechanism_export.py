"""``grokviz export``: the §6b figures with their CSVs, and ``--animate circles`` as a GIF."""

import pytest

from grokviz.cli import main


def test_export_writes_clock_pizza_and_circles(small_run_file, tmp_path, capsys):
    out = tmp_path / "figures"
    assert main(["export", str(small_run_file), "--out", str(out), "--quiet", "--max-checkpoints", "3"]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"08_clock_pizza.png", "08_clock_pizza.svg", "08_clock_pizza.csv", "08_clock_pizza_correct_logit.csv",
            "09_embedding_circles.png", "09_embedding_circles.csv", "10_learned_epochs.png", "10_learned_epochs_ca.csv",
            "10_learned_epochs_histogram.csv", "11_training_dynamics.png", "11_training_dynamics_collapse.csv",
            "11_training_dynamics_neurons.csv", "11_training_dynamics_trajectory_mlp.csv"} <= names
    header = (out / "08_clock_pizza.csv").read_text().splitlines()
    assert any("gradient_symmetricity" in line for line in header)
    assert "08_clock_pizza.png" in (out / "index.html").read_text()


def test_export_animate_circles_writes_a_gif(small_run_file, small_run, tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "anim"
    assert main(["export", str(small_run_file), "--out", str(out), "--animate", "circles", "--fps", "5", "--quiet"]) == 0
    gif = out / "embedding_circles.gif"
    with Image.open(gif) as image:
        assert image.n_frames == len(small_run.epochs)
        assert image.size == (1200, 800)
        assert image.info["duration"] == 200
    with pytest.raises(SystemExit):
        main(["export", str(small_run_file), "--out", str(out), "--animate", "circles", "--fps", "0"])
