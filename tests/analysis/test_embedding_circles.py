"""Embedding circles and their circularity (design.md §6b) on embeddings with known answers."""

import json
import math

import pytest
import torch

from grokviz.analysis.embedding_circles import circularity, embedding_circles, plane_points
from grokviz.analysis.session import RunSession
from grokviz.core.tasks import Task


def _fourier_embedding(p, frequencies, d_model=12, radius=(1.0, 0.5)):
    t = torch.arange(p + 1, dtype=torch.float64)
    embed = torch.zeros(p + 1, d_model, dtype=torch.float64)
    for i, (k, r) in enumerate(zip(frequencies, radius)):
        embed[:, 2 * i] = r * torch.cos(2 * math.pi * k * t / p)
        embed[:, 2 * i + 1] = r * torch.sin(2 * math.pi * k * t / p)
    rotation, _ = torch.linalg.qr(torch.randn(d_model, d_model, generator=torch.Generator().manual_seed(0),
                                              dtype=torch.float64))
    return embed @ rotation  # any orthogonal mixing of the dimensions keeps the circles


def test_ideal_fourier_embedding_is_perfectly_circular():
    p = 23
    result = embedding_circles(_fourier_embedding(p, (4, 9)), Task("add", p), [4, 9])
    (circles,) = result.operands
    assert circles.circularity == pytest.approx([1.0, 1.0], abs=1e-9)
    assert sum(circles.plane_share) == pytest.approx(1.0)  # the two circles are the whole embedding
    radii = circles.points[0].double().norm(dim=1)
    assert torch.allclose(radii, radii[0].expand_as(radii), rtol=1e-5)  # equal radius
    angles = torch.atan2(circles.points[0, :, 1].double(), circles.points[0, :, 0].double())
    steps = torch.remainder(angles.diff(), 2 * math.pi)
    assert torch.allclose(steps, torch.full_like(steps, 2 * math.pi * 4 / p), atol=1e-5)  # in order k·a
    # a frequency the embedding does not contain is not a circle
    assert embedding_circles(_fourier_embedding(p, (4, 9)), Task("add", p), [6]).operands[0].circularity[0] < 0.3


def test_noise_and_distortions_lower_circularity():
    p = 31
    task = Task("add", p)
    noise = torch.randn(p + 1, 16, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    random = embedding_circles(noise, task, [5]).operands[0]
    assert random.circularity[0] == pytest.approx(16 / (16 + p), abs=0.12)  # the plane's selection bias
    assert random.plane_share[0] < 0.25
    ideal = _fourier_embedding(p, (5,), radius=(1.0,))
    coordinate = torch.arange(p)
    points = plane_points(ideal[:p], coordinate, p, 5)
    uneven = points * (1 + 0.5 * torch.rand(p, 1, generator=torch.Generator().manual_seed(2), dtype=torch.float64))
    shuffled = points[torch.randperm(p, generator=torch.Generator().manual_seed(3))]
    assert 0.7 < circularity(uneven, coordinate, p, 5) < 0.999
    assert circularity(shuffled, coordinate, p, 5) < 0.3  # on a circle, but not in the order k·a


def test_report_over_checkpoints(small_run):
    session = RunSession(small_run)
    from grokviz.analysis.reports.key_frequencies import run_circle_frequencies

    keys = run_circle_frequencies(session)  # this short run is not grokked: W_E's candidates
    assert keys
    history = session.report("embedding_circles_history")
    assert history.epochs == small_run.epochs and history.frequencies == keys
    assert len(history.frames) == len(history.epochs)
    final = session.report("embedding_circles", small_run.epochs[-1], frequencies=tuple(keys))
    assert history.frames[-1] is final
    assert final.operands[0].points.shape == (len(keys), small_run.p, 2)
    payload = json.loads(json.dumps(session.report_json("embedding_circles")))
    assert set(payload["circularity"]["a"]) == {str(k) for k in keys}
    assert all(0 <= v <= 1 for v in payload["circularity"]["a"].values())
