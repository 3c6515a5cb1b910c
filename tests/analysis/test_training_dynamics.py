"""Softmax collapse and the weight trajectory (design.md §6b) on inputs with known answers."""

import json
import math

import pytest
import torch

from grokviz.analysis.session import RunSession
from grokviz.analysis.training_dynamics import WEIGHT_GROUPS, collapsed_fraction, pca_path


def test_collapsed_fraction_is_exact_float32_one():
    labels = torch.tensor([0, 1, 2, 0])
    logits = torch.zeros(4, 3)
    logits[0, 0] = 120.0  # e^-120 underflows next to 1: p = 1.0 exactly in float32
    logits[1, 1] = 10.0  # p ≈ 0.99991, not collapsed
    logits[2, 2] = 200.0
    logits[3, 1] = 200.0  # collapsed on the wrong class: p_correct = 0
    assert collapsed_fraction(logits, labels) == 0.5
    assert float(torch.softmax(logits, -1)[1, 1]) < 1.0


def test_pca_path_of_a_line_and_a_circle():
    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    direction = torch.randn(50, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    line = t[:, None] * direction
    path, shares = pca_path(line)
    assert shares[0] == pytest.approx(1.0) and shares[1] == pytest.approx(0.0, abs=1e-12)
    assert torch.allclose(path[:, 0], (t - t.mean()) * direction.norm())  # distances along the line kept
    angle = torch.linspace(0, 2 * math.pi, 40, dtype=torch.float64)[:-1]
    circle = torch.stack([angle.cos(), angle.sin()], 1) @ torch.randn(2, 30, dtype=torch.float64)
    assert sum(pca_path(circle)[1]) == pytest.approx(1.0)


def test_reports_on_a_trained_run(small_run):
    session = RunSession(small_run)
    collapse = session.report("softmax_collapse_history")
    assert collapse.epochs == small_run.epochs
    assert all(0.0 <= v <= 1.0 for v in collapse.collapsed)
    assert collapse.collapsed[0] == 0.0  # at initialisation nothing is that confident
    trajectory = session.report("weight_trajectory")
    assert set(trajectory.paths) == set(WEIGHT_GROUPS)
    for group in WEIGHT_GROUPS:
        assert trajectory.paths[group].shape == (len(small_run.epochs), 2)
        assert len(trajectory.steps[group]) == len(small_run.epochs) - 1
    first, second = (small_run.state_dict(e) for e in small_run.epochs[:2])
    step = math.sqrt(sum(float((second[k].double() - first[k].double()).square().sum()) for k in WEIGHT_GROUPS["model"]))
    assert trajectory.steps["model"][0] == pytest.approx(step)
    # groups partition the model's weights: squared steps add up
    parts = sum(trajectory.steps[g][0] ** 2 for g in ("embed", "attention", "mlp", "unembed"))
    assert parts == pytest.approx(trajectory.steps["model"][0] ** 2)
    json.dumps(session.report_json("weight_trajectory"))


def _collapse_run(loss):
    """p = 13 without weight decay at lr 1e-2: memorised in a few hundred epochs, logits growing."""
    from grokviz.core.config import ModelConfig, TrainConfig
    from grokviz.core.data import SplitSpec
    from grokviz.core.tasks import Task
    from grokviz.core.training import train
    from tests.conftest import SMALL_DIMS

    return train(Task("add", 13), SplitSpec(frac_train=0.5), ModelConfig(p=13, **SMALL_DIMS),
                 TrainConfig(epochs=400, checkpoint_every=200, device="cpu", lr=1e-2, weight_decay=0.0, loss=loss))


def test_stablemax_keeps_its_own_loss_from_collapsing():
    """Prieto et al.'s point, measured: cross-entropy training without weight decay collapses the float32
    softmax of a share of the training inputs; StableMax training pushes the logits further (its softmax
    collapses even more) while its own float32 probabilities never reach exactly 1."""
    cross = RunSession(_collapse_run("cross_entropy")).report("softmax_collapse_history")
    assert cross.collapsed[0] == 0.0 and cross.collapsed[-1] > 0.05
    assert cross.own_loss_collapsed == cross.collapsed and cross.note is None
    stable_session = RunSession(_collapse_run("stablemax"))
    stable = stable_session.report("softmax_collapse_history")
    assert stable.collapsed[-1] > 0.5 and stable.own_loss_collapsed == [0.0, 0.0, 0.0]
    value = stable_session.report_json("softmax_collapse", 400)
    assert value["training_loss"] == "stablemax" and "stablemax" in value["note"]
    assert "float32 softmax" in value["measures"] and value["collapsed_fraction"] == stable.collapsed[-1]
    assert value["own_loss_collapsed"] == 0.0


def test_stablemax_collapse_is_exact_float32_one():
    labels = torch.tensor([0, 1])
    logits = torch.zeros(2, 3)
    logits[0, 0] = 1e9  # s = 1e9 + 1 against 2: the share rounds to exactly 1 in float32
    logits[1, 1] = 120.0  # the softmax would round to 1; StableMax: 121 / 123
    assert collapsed_fraction(logits, labels, "stablemax") == 0.5
    assert collapsed_fraction(logits, labels) == 1.0


def test_collapse_report_of_a_cross_entropy_run_has_no_note(small_run):
    value = RunSession(small_run).report_json("softmax_collapse", small_run.epochs[-1])
    assert value["training_loss"] == "cross_entropy" and value["note"] is None
    assert value["own_loss_collapsed"] == value["collapsed_fraction"]
