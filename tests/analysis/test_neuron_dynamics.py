"""Neuron dynamics (design.md §6b): commitment epochs and switch counts on hand-made fractions."""

import json

import torch

from grokviz.analysis.neuron_dynamics import neuron_dynamics
from grokviz.analysis.session import RunSession


def _fractions(dominant_per_step, p=9):
    """[freq, neuron] fractions: each neuron puts ``share`` on its frequency (0 = spread out)."""
    out = []
    for step in dominant_per_step:
        fraction = torch.zeros(p // 2 + 1, len(step))
        for neuron, (k, share) in enumerate(step):
            fraction[1:, neuron] = (1 - share) / (p // 2 - 1)
            fraction[k, neuron] = share
        out.append(fraction)
    return out


def test_commitment_and_switches():
    steps = [  # neurons: commits at 10 to k=2; flips 1→3 (commits at 30); never clusters; leaves its cluster
        [(2, 0.5), (1, 0.9), (1, 0.3), (4, 0.95)],
        [(2, 0.9), (1, 0.95), (1, 0.3), (4, 0.95)],
        [(2, 0.92), (3, 0.9), (2, 0.4), (4, 0.95)],
        [(2, 0.95), (3, 0.96), (2, 0.4), (4, 0.5)],
    ]
    result = neuron_dynamics(_fractions(steps), [0, 10, 20, 30])
    assert result.cluster[-1].tolist() == [2, 3, 0, 0]
    assert result.commitment.tolist() == [10, 20, -1, -1]
    assert result.switches.tolist() == [1, 1, 0, 1]
    assert result.dominant[0].tolist() == [2, 1, 1, 4]
    assert result.order[:2] == [0, 1]  # clustered first, by final cluster
    assert result.final_fraction[:, 0].tolist() == [0.5, 0.8999999761581421, 0.9200000166893005, 0.949999988079071]


def test_report_reuses_neuron_fraction(small_run):
    session = RunSession(small_run)
    result = session.report("neuron_dynamics")
    assert result.epochs == small_run.epochs
    final = session.report("neuron_fraction", small_run.epochs[-1]).data
    best, freq = final[1:].max(0)
    assert torch.equal(result.dominant[-1], freq + 1)
    assert torch.allclose(result.fraction[-1], best.float())
    assert sorted(result.order) == list(range(small_run.model_config.d_mlp))
    json.dumps(session.report_json("neuron_dynamics"))
