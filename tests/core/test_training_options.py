"""``--loss stablemax`` and ``--optimizer orthoadamw``: real training, the run file, info, resume, errors."""

import json

import pytest

from grokviz.cli import main
from grokviz.core.runfile import load_run, save_run

DIMS = ["--d-model", "32", "--n-heads", "2", "--d-head", "16", "--d-mlp", "64"]


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and "|" not in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def option_runs(tmp_path_factory):
    """Two real runs at p = 13 from the command line: StableMax + AdamW, cross-entropy + ⊥AdamW."""
    directory = tmp_path_factory.mktemp("options")
    paths = {}
    for loss, optimizer in (("stablemax", "adamw"), ("cross_entropy", "orthoadamw")):
        path = directory / f"{loss}-{optimizer}.pt"
        assert main(["train", "--task", "add", "--p", "13", "--epochs", "300", "--checkpoint-every", "100",
                     "--frac-train", "0.5", "--lr", "3e-3", "--loss", loss, "--optimizer", optimizer,
                     "--out", str(path), "--device", "cpu", "--no-progress-measures", *DIMS]) == 0
        paths[(loss, optimizer)] = path
    return paths


def test_the_options_are_recorded_and_read_back(option_runs, tmp_path):
    for (loss, optimizer), path in option_runs.items():
        run = load_run(path)
        assert (run.train_config.loss, run.train_config.optimizer) == (loss, optimizer)
        assert run.epochs_trained == 300 and run.history.last()["train_acc"] > 0.5  # it really trained
        again = tmp_path / "again.pt"
        save_run(run, again)
        assert load_run(again).train_config == run.train_config


def test_history_losses_are_the_runs_own_loss(option_runs):
    """The recorded train loss of the StableMax run is StableMax's, recomputed from the final weights."""
    import torch

    from grokviz.core.lastpos import InputLayout, last_position_logits
    from grokviz.core.losses import stablemax_cross_entropy

    run = load_run(option_runs[("stablemax", "adamw")])
    train_rows, _ = run.indices()
    model = run.model(None)
    with torch.no_grad():
        logits = last_position_logits(model, InputLayout.from_rows(train_rows.sort().values, run.p))
    recomputed = float(stablemax_cross_entropy(logits, run.task.labels()[train_rows.sort().values]))
    assert run.history.last()["train_loss"] == pytest.approx(recomputed, rel=1e-5)


def test_info_shows_the_recipe(option_runs, capsys):
    path = option_runs[("cross_entropy", "orthoadamw")]
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "training      cross-entropy (softmax), ⊥AdamW" in out
    assert main(["info", str(option_runs[("stablemax", "adamw")]), "--json"]) == 0
    recipe = json.loads(capsys.readouterr().out)["recipe"]
    assert recipe["loss"] == "stablemax" and recipe["optimizer"] == "adamw" and recipe["lr"] == 3e-3


@pytest.mark.parametrize("options, named", [(["--loss", "cross_entropy"], "--loss"),
                                            (["--optimizer", "orthoadamw"], "--optimizer")])
def test_resume_refuses_another_loss_or_optimizer(option_runs, options, named, capsys):
    path = option_runs[("stablemax", "adamw")]
    assert main(["train", "--resume", str(path), "--epochs", "310", *options]) == 2
    line = one_line(capsys)
    assert named in line and "--resume" in line and "the run has" in line


def test_resume_keeps_the_runs_options(option_runs, tmp_path):
    out = tmp_path / "more.pt"
    path = option_runs[("cross_entropy", "orthoadamw")]
    assert main(["train", "--resume", str(path), "--out", str(out), "--epochs", "320", "--optimizer", "orthoadamw",
                 "--no-progress-measures"]) == 0
    run = load_run(out)
    assert run.epochs_trained == 320 and run.train_config.optimizer == "orthoadamw"


@pytest.mark.parametrize("options, named", [(["--loss", "focal"], "--loss"), (["--optimizer", "sgd"], "--optimizer")])
def test_unknown_choices_are_one_line_and_exit_2(options, named, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--task", "add", "--p", "7", "--out", str(tmp_path / "x.pt"), *options])
    assert exit_info.value.code == 2
    assert named in one_line(capsys)
    assert not (tmp_path / "x.pt").exists()


def test_defaults_are_the_notebook_recipe():
    from grokviz.core.config import TrainConfig

    config = TrainConfig.from_dict({"epochs": 10})  # a file from before the options existed
    assert (config.loss, config.optimizer) == ("cross_entropy", "adamw")
