"""The §6b reports in task coordinates (design.md §6a) for mul and pow with m ≠ n.

Hand-built embeddings, logit tables and activations whose answers are known in the task's own group
(discrete logs for mul, n = p − 1; a^m and b^n for pow, each operand its own map), then the reports on
the small trained mul run of conftest.
"""

import math

import pytest
import torch

from grokviz.analysis import clock_pizza as cp
from grokviz.analysis.cache import token_axis
from grokviz.analysis.coordinates import operand_maps
from grokviz.analysis.embedding_circles import embedding_circles
from grokviz.analysis.labelled import LabelledTensor
from grokviz.analysis.neuron_dynamics import neuron_dynamics
from grokviz.analysis.neurons import neuron_frequency_fraction
from grokviz.analysis.reorder import reorder
from grokviz.analysis.session import RunSession
from grokviz.core.data import all_tokens
from grokviz.core.tasks import Task

P = 23


def _circle_embedding(coordinate, n, k, d_model=10, seed=0):
    """W_E [p + 1, d_model] with token t at angle 2πk·u_t/n on a circle (tokens outside the group at 0),
    mixed by a random rotation (the circle's plane is not an axis plane)."""
    u = torch.tensor(coordinate, dtype=torch.float64)
    embed = torch.zeros(len(coordinate) + 1, d_model, dtype=torch.float64)
    inside = torch.cat([u >= 0, torch.tensor([False])])
    angle = 2 * math.pi * k * u[u >= 0] / n
    embed[inside, 0], embed[inside, 1] = angle.cos(), angle.sin()
    rotation, _ = torch.linalg.qr(torch.randn(d_model, d_model, generator=torch.Generator().manual_seed(seed),
                                              dtype=torch.float64))
    return embed @ rotation


# -- embedding circles ------------------------------------------------------------------------------

def test_mul_circle_is_ideal_in_discrete_log_order():
    task = Task("mul", P)
    maps = operand_maps(task)
    assert maps.n == P - 1 and maps.phi[0] == -1  # the token 0 is outside the multiplicative group
    embed = _circle_embedding(maps.phi.tolist(), maps.n, 5)
    (circles,) = embedding_circles(embed, task, [5]).operands  # φ = ψ: one circle for both operands
    assert circles.circularity[0] == pytest.approx(1.0, abs=1e-9) and circles.n == P - 1
    assert torch.isnan(circles.points[0, 0]).all()  # token 0 has no point
    # the same embedding read as addition (token order) is no circle
    assert embedding_circles(embed, Task("add", P), [5]).operands[0].circularity[0] < 0.5


@pytest.mark.parametrize("circle_on, ideal, other", [("a", 0, 1), ("b", 1, 0)])
def test_pow_with_m_not_n_gives_each_operand_its_own_map(circle_on, ideal, other):
    """a^2 + b^3 mod 23: W_E on a circle in t² order is a's ideal circle (2-to-one: ±t share a point)
    but not b's, and in t³ order the other way round."""
    task = Task("pow", P, 2, 3)
    maps = operand_maps(task)
    coordinate = (maps.phi if circle_on == "a" else maps.psi).tolist()
    result = embedding_circles(_circle_embedding(coordinate, P, 4), task, [4])
    assert [o.operand for o in result.operands] == ["a", "b"]
    assert result.operands[0].coordinate == [pow(t, 2, P) for t in range(P)]
    assert result.operands[1].coordinate == [pow(t, 3, P) for t in range(P)]
    assert result.operands[ideal].circularity[0] == pytest.approx(1.0, abs=1e-9)
    assert result.operands[other].circularity[0] < 0.8


# -- clock vs pizza: distance irrelevance in (φ(a), ψ(b)) -------------------------------------------

def _naive_q_in(table, maps):
    """Def 4.2 written out in coordinates: mean over d of the std of L over inputs with ψ(b) − φ(a) = d."""
    groups = {}
    for a in range(table.shape[0]):
        for b in range(table.shape[1]):
            u, v = int(maps.phi[a]), int(maps.psi[b])
            if u >= 0 and v >= 0:
                groups.setdefault((v - u) % maps.n, []).append(float(table[a, b]))
    inside = torch.tensor([x for values in groups.values() for x in values], dtype=torch.float64)
    stds = [torch.tensor(values, dtype=torch.float64).std(unbiased=False) for values in groups.values()]
    return float(torch.stack(stds).mean() / inside.std(unbiased=False))


@pytest.mark.parametrize("task", [Task("mul", P), Task("pow", P, 2, 3)], ids=["mul", "pow23"])
def test_distance_irrelevance_groups_by_the_coordinate_difference(task):
    maps = operand_maps(task)
    u = maps.phi.clamp_min(0).double()
    v = maps.psi.clamp_min(0).double()
    pizza = torch.cos(math.pi * 3 * (v[None, :] - u[:, None]) / maps.n).abs()  # a function of ψ(b) − φ(a) only
    assert cp.distance_irrelevance(pizza, maps) == pytest.approx(0.0, abs=1e-9)
    # read in token coordinates (add's Def 4.2) the same table is far from a pizza
    assert cp.distance_irrelevance(pizza, operand_maps(Task("add", P))) > 0.3
    noisy = torch.randn(P, P, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert cp.distance_irrelevance(noisy, maps) == pytest.approx(_naive_q_in(noisy, maps), rel=1e-9)


def test_mul_sum_difference_grid_is_in_discrete_logs():
    """[u + v, u − v] over Z_22: n is even, so (u, v) and (u + 11, v + 11) share a cell (averaged) and
    cells with u + v, u − v of different parity hold no input; the grid's note says both."""
    task = Task("mul", P)
    maps = operand_maps(task)
    table = torch.randn(P, P, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    grid = cp.sum_difference_grid(table, maps)
    n = P - 1
    assert grid.data.shape == (n, n) and grid.names == ("u+v", "u−v")
    token = {int(u): t for t, u in enumerate(maps.phi.tolist()) if u >= 0}  # discrete log → token
    for a in range(1, P):
        for b in range(1, P):
            u, v = int(maps.phi[a]), int(maps.psi[b])
            partner = table[token[(u + n // 2) % n], token[(v + n // 2) % n]]
            assert float(grid.data[(u + v) % n, (u - v) % n]) == pytest.approx(float(table[a, b] + partner) / 2,
                                                                                rel=1e-6, abs=1e-6)
    assert int(torch.isnan(grid.data).sum()) == n * n // 2
    assert "no input" in grid.note and "average 2 inputs" in grid.note


# -- neuron frequencies and their dynamics --------------------------------------------------------

@pytest.mark.parametrize("task, frequencies", [(Task("mul", P), [2, 7, 11]), (Task("pow", P, 3, 5), [1, 4, 9])],
                         ids=["mul", "pow35"])
def test_neuron_waves_in_task_coordinates_are_found_and_tracked(task, frequencies):
    """Neuron j fires cos(2πk_j(φ(a) + ψ(b))/n + phase): its whole spectrum sits at k_j in the task's
    coordinates, so neuron dynamics (from those fractions) has it committed to k_j from the start."""
    coords = task.coordinates()
    maps = operand_maps(task)
    u, v = maps.phi.double(), maps.psi.double()
    inside = (maps.phi[:, None] >= 0) & (maps.psi[None, :] >= 0)
    post = torch.zeros(P, P, len(frequencies), dtype=torch.float64)
    for j, k in enumerate(frequencies):
        wave = torch.cos(2 * math.pi * k * (u[:, None] + v[None, :]) / maps.n + 0.3 * j)
        post[..., j] = torch.where(inside, wave, torch.zeros_like(wave))
    fraction = neuron_frequency_fraction(post, coords)
    assert fraction.data.shape[0] == maps.n // 2 + 1
    for j, k in enumerate(frequencies):
        assert float(fraction.data[k, j]) == pytest.approx(1.0, abs=1e-6)
    dynamics = neuron_dynamics([fraction, fraction], [0, 10])
    assert dynamics.cluster[-1].tolist() == frequencies and dynamics.commitment.tolist() == [0] * len(frequencies)
    # the same activations read in token coordinates are not single-frequency (they are for add only)
    if task.name == "mul":
        plain = neuron_frequency_fraction(post, Task("add", P).coordinates())
        assert float(plain.data[1:].max(0).values.max()) < 0.85


# -- when each input is learned: the [c, a] grid for mul --------------------------------------------

def test_mul_learned_grid_in_answer_order_is_reindexed_or_blank():
    task = Task("mul", P)
    learned = torch.arange(P * P, dtype=torch.float64).view(P, P)  # a distinct "epoch" per input
    tensor = LabelledTensor(learned, (token_axis("a", P), token_axis("b", P)))
    grid = reorder(tensor, task, "ca")
    for c in range(P):
        for a in range(1, P):
            b = c * pow(a, -1, P) % P  # c = 0 with a ≠ 0: b = 0
            assert float(grid.data[c, a]) == learned[a, b]
    # a = 0 does not determine b (c = 0 for every b, and no input has c ≠ 0): that column is blank, and the grid says why
    assert torch.isnan(grid.data[:, 0]).all() and "ragged" in grid.note


# -- the reports on a small trained mul run -----------------------------------------------------------

def test_6b_reports_on_a_trained_mul_run(mul_run):
    session = RunSession(mul_run)
    final = mul_run.epochs[-1]
    n = mul_run.task.coordinates().n
    keys = session.report("key_frequencies").frequencies
    assert keys and all(1 <= k <= n // 2 for k in keys)
    circles = session.report("embedding_circles", final, frequencies=tuple(keys))
    assert [o.operand for o in circles.operands] == ["a"] and circles.operands[0].n == n
    # the learned circles are circles in discrete-log order, far better than the same planes read as add
    as_add = embedding_circles(mul_run.state_dict(final)["embed.W_E"], Task("add", P), keys)
    assert max(circles.operands[0].circularity) > 0.9
    assert max(circles.operands[0].circularity) > max(as_add.operands[0].circularity) + 0.3
    clock = session.report("clock_pizza", final)
    assert clock.correct_logit.data.shape == (n, n) and clock.correct_logit.names == ("u+v", "u−v")
    assert math.isfinite(clock.gradient_symmetricity) and 0 < clock.distance_irrelevance <= 1.5
    dynamics = session.report("neuron_dynamics")
    assert int(dynamics.dominant.max()) <= n // 2
    clusters = session.report("neurons", final).clusters
    for k, members in clusters.items():
        assert set(dynamics.cluster[-1, members].tolist()) == {k}
    learned = session.report("learned_epochs")
    test_rows = (~learned.train & learned.valid).reshape(-1)
    assert learned.accuracy(test_rows)[-1] == pytest.approx(mul_run.history.last()["test_acc"])
    collapse = session.report("softmax_collapse", final)
    assert 0.0 <= collapse.fraction <= 1.0 and collapse.training_loss == "cross_entropy"


@pytest.fixture(scope="module")
def pow23_run():
    """pow a² + b³ mod 13, trained briefly (m ≠ n: the slowest to generalise; only the shapes are known)."""
    from grokviz.core.config import ModelConfig, TrainConfig
    from grokviz.core.data import SplitSpec
    from grokviz.core.training import train
    from tests.conftest import SMALL_DIMS

    return train(Task("pow", 13, 2, 3), SplitSpec(frac_train=0.6), ModelConfig(p=13, **SMALL_DIMS),
                 TrainConfig(epochs=200, checkpoint_every=50, device="cpu"))


def test_6b_reports_on_a_trained_pow_run_with_m_not_n(pow23_run):
    import json

    run, session = pow23_run, RunSession(pow23_run)
    final = run.epochs[-1]
    history = session.report("embedding_circles_history")
    assert len(history.frames) == len(run.epochs)
    a, b = history.frames[-1].operands
    assert (a.operand, b.operand) == ("a", "b")
    assert a.coordinate == [pow(t, 2, 13) for t in range(13)] and b.coordinate == [pow(t, 3, 13) for t in range(13)]
    clock = session.report("clock_pizza", final)
    assert clock.correct_logit.data.shape == (13, 13) and clock.correct_logit.names == ("u+v", "u−v")
    maps = operand_maps(run.task)
    with torch.no_grad():
        logits = run.model(final)(all_tokens(13))[:, -1]
    correct = cp.correct_logits(logits.view(13, 13, 13), run.task.labels())
    assert clock.distance_irrelevance == pytest.approx(_naive_q_in(correct, maps), rel=1e-6)
    learned = session.report("learned_epochs")
    train_rows = (learned.train & learned.valid).reshape(-1)
    assert learned.accuracy(train_rows)[-1] == pytest.approx(run.history.last()["train_acc"])
    dynamics = session.report("neuron_dynamics")
    assert dynamics.dominant.shape == (len(run.epochs), run.model_config.d_mlp)
    for name in ("clock_pizza_history", "embedding_circles_history", "learned_epochs", "neuron_dynamics",
                 "weight_trajectory", "softmax_collapse_history"):
        json.dumps(session.report_json(name))
