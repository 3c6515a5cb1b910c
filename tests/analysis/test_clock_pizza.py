"""Clock vs pizza (design.md §6b): the discriminators on models and logit tables with known answers."""

import json
import math

import pytest
import torch

from grokviz.analysis import clock_pizza as cp
from grokviz.analysis.coordinates import operand_maps
from grokviz.analysis.session import RunSession
from grokviz.core.tasks import Task
from tests.analysis.helpers import random_model


@pytest.fixture(scope="module")
def example_session():
    from grokviz.cli import example_path
    from grokviz.core.runfile import load_run

    return RunSession(load_run(example_path()))


def _uniform_attention(model):
    with torch.no_grad():
        for name in ("W_Q", "W_K", "b_Q", "b_K"):
            getattr(model.blocks[0].attn, name).zero_()
    return model


def test_uniform_attention_gives_equal_gradients():
    """With W_Q = W_K = 0 the = token attends 1/3 to each position, so ∂Q/∂E_a = ∂Q/∂E_b exactly."""
    model = _uniform_attention(random_model(p=11, seed=3))
    cosines = cp.gradient_cosines(model, cp.random_triples(11, 200, seed=1))
    assert torch.allclose(cosines, torch.ones_like(cosines), atol=1e-5)
    # real attention breaks the symmetry
    assert cp.gradient_symmetricity(random_model(p=11, seed=3), 200, 1) < 0.99


def test_gradients_match_finite_differences():
    model = random_model(p=7, seed=5).double()
    a, b, c = 2, 5, 3
    cosine = float(cp.gradient_cosines(model, torch.tensor([[a, b, c]])))
    tokens = torch.tensor([[a, b, 7]])
    embed = model.W_E.detach()[tokens].clone()

    def q(e):
        return float(cp._logits_from_embeddings(model, e)[0, c].detach())

    grads = []
    for position in (0, 1):
        g = torch.zeros(embed.shape[-1], dtype=torch.float64)
        for i in range(len(g)):
            up, down = embed.clone(), embed.clone()
            up[0, position, i] += 1e-6
            down[0, position, i] -= 1e-6
            g[i] = (q(up) - q(down)) / 2e-6
        grads.append(g)
    assert cosine == pytest.approx(float(torch.nn.functional.cosine_similarity(*grads, dim=0)), abs=1e-6)
    # the forward used for the gradients is the model's own
    assert torch.allclose(cp._logits_from_embeddings(model, model.W_E.detach()[tokens]), model(tokens)[:, -1])


def _naive_q(table, p):
    """Def 4.2 written out: mean over d of std_a L[a, a+d], over std L."""
    rows = torch.stack([torch.stack([table[a, (a + d) % p] for a in range(p)]) for d in range(p)])
    return float(rows.std(1, unbiased=False).mean() / table.std(unbiased=False))


def test_distance_irrelevance_on_known_tables():
    p = 13
    maps = operand_maps(Task("add", p))
    a = torch.arange(p).double()
    diff = (a[:, None] - a[None, :])
    pizza = torch.cos(math.pi * 3 * diff / p).abs()  # depends on a − b only
    assert cp.distance_irrelevance(pizza, maps) == pytest.approx(0.0, abs=1e-9)
    generator = torch.Generator().manual_seed(0)
    noisy = torch.randn(p, p, generator=generator, dtype=torch.float64)
    assert cp.distance_irrelevance(noisy, maps) == pytest.approx(_naive_q(noisy, p), rel=1e-9)
    assert cp.distance_irrelevance(noisy, maps) > 0.8  # a clock: the distance tells nothing


def test_sum_difference_grid_reindexes():
    p = 7
    maps = operand_maps(Task("add", p))
    table = torch.arange(p * p, dtype=torch.float64).view(p, p)
    grid = cp.sum_difference_grid(table, maps)
    for a in range(p):
        for b in range(p):
            assert float(grid.data[(a + b) % p, (a - b) % p]) == table[a, b]
    assert grid.names == ("a+b", "a−b") and not grid.note


def test_verdict_thresholds():
    assert cp.verdict(*cp.PAPER_VALUES["clock"]) == "clock"
    assert cp.verdict(*cp.PAPER_VALUES["pizza"]) == "pizza"
    assert cp.verdict(0.99, 0.9) == "mixed" and cp.verdict(0.3, 0.2) == "mixed"


def test_bundled_example_is_a_clock(example_session):
    """The bundled example (a trained add model, p = 113) is a clock by both discriminators."""
    result = example_session.report("clock_pizza")
    assert result.verdict == "clock"
    assert 0.2 < result.gradient_symmetricity < cp.VERDICT_S_G
    assert result.distance_irrelevance > cp.VERDICT_Q
    assert result.n_triples == cp.DEFAULT_TRIPLES and result.seed == cp.DEFAULT_SEED
    assert example_session.report("clock_pizza") is result  # cached
    payload = json.loads(json.dumps(example_session.report_json("clock_pizza")))
    assert set(payload) == {"gradient_symmetricity", "distance_irrelevance", "verdict", "n_triples", "seed"}
    assert result.correct_logit.shape == (113, 113)
    assert torch.isfinite(result.correct_logit.data).all()


def test_history_over_checkpoints(small_run):
    session = RunSession(small_run)
    history = session.report("clock_pizza_history", n_triples=64)
    assert history.epochs == small_run.epochs
    assert len(history.gradient_symmetricity) == len(history.epochs) == len(history.verdict)
    last = session.report("clock_pizza", small_run.epochs[-1], n_triples=64)
    assert history.gradient_symmetricity[-1] == last.gradient_symmetricity  # one computation, shared
    assert all(v in ("clock", "pizza", "mixed") for v in history.verdict)


def test_analyze_json_has_clock_pizza(small_run_file, capsys):
    from grokviz.cli import main

    assert main(["analyze", str(small_run_file), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["clock_pizza"]["verdict"] in ("clock", "pizza", "mixed")
    assert payload["clock_pizza"]["n_triples"] == cp.DEFAULT_TRIPLES
    assert main(["analyze", str(small_run_file), "--report", "clock_pizza", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["seed"] == cp.DEFAULT_SEED
