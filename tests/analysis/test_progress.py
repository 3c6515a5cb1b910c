import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from grokviz.analysis.progress import (ProgressSetup, cross_entropy, gini, iter_progress, measure_model, row_cross_entropy,
                                       progress_measures)


@torch.no_grad()
def notebook_measures(run, model, key_freqs):
    """Nanda's notebook definitions, computed the slow way (full forward, cos cube)."""
    p = run.p
    logits, cache = model.run_with_cache(run.tokens())
    logits = logits[:, -1].double()
    post = cache["blocks.0.mlp.hook_post"][:, -1].double()
    labels = run.labels()
    train, test = run.indices()
    W_L = (model.blocks[0].mlp.W_out @ model.unembed.W_U).double()
    a = torch.arange(p)[:, None]
    b = torch.arange(p)[None, :]
    approx = torch.zeros_like(post) + post.mean(0)
    excluded = logits.clone()
    for k in key_freqs:
        for fn in (torch.cos, torch.sin):
            vec = fn(2 * math.pi * k * (a + b) / p).double().reshape(-1, 1)
            vec = vec / vec.norm()
            part = (post * vec).sum(0) * vec
            approx = approx + part
            excluded = excluded - part @ W_L
    restricted = approx @ W_L
    restricted = restricted + logits.mean(0, keepdim=True) - restricted.mean(0, keepdim=True)
    cube = []
    c = torch.arange(p)[None, None, :]
    for k in range(1, p // 2 + 1):
        w = torch.cos(2 * math.pi * k / p * (a[:, :, None] + b[:, :, None] - c)).double()
        cube.append(w / w.norm())
    cube = torch.stack(cube)
    cube_logits = logits.reshape(p, p, p)
    coefficients = (cube * cube_logits[None]).sum((-3, -2, -1))
    centred = cube_logits - cube_logits.mean(-1, keepdim=True)
    predicted = (coefficients[[k - 1 for k in key_freqs], None, None, None] * cube[[k - 1 for k in key_freqs]]).sum(0)
    cos_sim = F.cosine_similarity(centred.flatten(), predicted.flatten(), dim=0)
    return {
        "restricted_loss": float(F.cross_entropy(restricted[test], labels[test])),
        "excluded_loss": float(F.cross_entropy(excluded[train], labels[train])),
        "test_loss": float(F.cross_entropy(logits[test], labels[test])),
        "train_loss": float(F.cross_entropy(logits[train], labels[train])),
        "cos_coeffs": coefficients.tolist(),
        "cos_sim": float(cos_sim),
    }


def test_matches_notebook_definitions(small_run):
    model = small_run.model()
    keys = [3, 9]
    train, test = small_run.indices()
    ours = measure_model(ProgressSetup.build(small_run.task, train, test, keys), model)
    reference = notebook_measures(small_run, model, keys)
    for name in ("restricted_loss", "excluded_loss", "test_loss", "train_loss", "cos_sim"):
        assert math.isclose(ours[name], reference[name], rel_tol=1e-4, abs_tol=1e-6), name
    assert np.allclose(ours["cos_coeffs"], reference["cos_coeffs"], atol=1e-4)
    assert math.isclose(ours["residual"], 1 - reference["cos_sim"] ** 2, abs_tol=1e-5)
    assert set(ours["excluded_loss_per_freq"]) == {3, 9}
    assert math.isclose(ours["weight_norm"], sum(float(p.detach().double().square().sum()) for p in model.parameters()), rel_tol=1e-6)


def test_cross_entropy_tiny_and_large_losses():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(50, 7, generator=generator) * 3
    labels = torch.randint(0, 7, (50,), generator=generator)
    assert math.isclose(cross_entropy(logits, labels), float(F.cross_entropy(logits.double(), labels)), rel_tol=1e-6)
    confident = torch.zeros(4, 5)
    confident[torch.arange(4), torch.arange(4)] = 20.0
    exact = float(F.cross_entropy(confident.double(), torch.arange(4)))
    assert exact < 1e-7
    assert math.isclose(cross_entropy(confident, torch.arange(4)), exact, rel_tol=1e-5)
    wrong = confident.clone()
    assert cross_entropy(wrong, torch.tensor([4, 0, 1, 2])) > 19


def test_gini():
    assert gini(torch.ones(4)) == 0.0
    assert math.isclose(gini(torch.tensor([0.0, 0.0, 0.0, 1.0])), 0.75)
    assert gini(torch.zeros(3)) == 0.0


def test_iterator_progress_and_cancel(small_run):
    calls = []
    seen = []
    for epoch, measures in iter_progress(small_run, key_freqs=[3], on_progress=lambda *a: calls.append(a),
                                         cancel=lambda: len(seen) >= 2):
        seen.append(epoch)
    assert seen == small_run.epochs[:2]
    assert calls == [(1, len(small_run.epochs), small_run.epochs[0]), (2, len(small_run.epochs), small_run.epochs[1])]
    table = progress_measures(small_run, key_freqs=[3, 5])
    assert table.complete and list(table.epochs) == small_run.epochs
    assert table.excluded_loss_per_freq.shape == (len(small_run.epochs), 2)
    assert table.cos_coeffs.shape == (len(small_run.epochs), small_run.p // 2)
    final = small_run.final_metrics()
    assert math.isclose(table.columns["train_loss"][-1], final["train_loss"], rel_tol=1e-3)
    records = table.records()
    assert records[-1]["epoch"] == small_run.epochs[-1] and "restricted_loss" in records[-1]
    cancelled = progress_measures(small_run, key_freqs=[3], cancel=lambda: True)
    assert not cancelled.complete and len(cancelled.epochs) == 0


def test_non_add_task_runs(small_run):
    from grokviz.core.tasks import Task

    train, test = small_run.indices()
    setup = ProgressSetup.build(Task("mul", small_run.p), train, test, [2, 4])
    measures = measure_model(setup, small_run.model())
    assert all(math.isfinite(measures[k]) for k in ("restricted_loss", "excluded_loss", "cos_sim"))


@pytest.mark.parametrize("consume", [False, True])
def test_row_cross_entropy_survives_overflowing_rows(consume):
    generator = torch.Generator().manual_seed(3)
    logits = torch.randn(40, 9, generator=generator)
    labels = torch.randint(0, 9, (40,), generator=generator)
    logits[::3, 0] += 300.0  # x_c − x_true > 88 on every third row: exp overflows in float32
    expected = F.cross_entropy(logits.double(), labels, reduction="none")
    got = row_cross_entropy(logits.clone(), labels, consume=consume)
    assert torch.isfinite(got).all()
    assert torch.allclose(got.double(), expected, rtol=1e-5, atol=1e-4)


def test_large_logits_match_notebook_definitions(small_run):
    """A model whose logit gaps overflow float32 exp still gets the notebook's numbers."""
    model = small_run.model()
    with torch.no_grad():
        model.unembed.W_U.mul_(-40.0)  # confidently wrong: gaps of hundreds
    keys = [3, 9]
    train, test = small_run.indices()
    ours = measure_model(ProgressSetup.build(small_run.task, train, test, keys), model)
    reference = notebook_measures(small_run, model, keys)
    for name in ("restricted_loss", "excluded_loss", "test_loss", "train_loss"):
        assert reference[name] > 1.0 and math.isfinite(ours[name]), name
        assert math.isclose(ours[name], reference[name], rel_tol=1e-4), name


def test_parallel_workers_give_the_sequential_measures_and_restore_threads(small_run):
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        sequential = list(iter_progress(small_run, key_freqs=[3], workers=1))
        parallel = iter_progress(small_run, key_freqs=[3], workers=2)
        first = next(parallel)
        assert torch.get_num_threads() == 1  # one torch thread per worker while they run
        parallel.close()  # a consumer stopping early
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert first[0] == sequential[0][0] and first[1]["test_loss"] == sequential[0][1]["test_loss"]
    assert [e for e, _ in iter_progress(small_run, key_freqs=[3], workers=2)] == [e for e, _ in sequential]


@pytest.mark.parametrize("task_name", ["add", "mul"])
def test_excluded_and_restricted_losses_against_least_squares(small_run, task_name):
    """Per-frequency and joint excluded losses, and the restricted loss, from an explicit float64
    least-squares projection of the neurons onto the key directions cos/sin(w_k·χ(c)) in the task's
    coordinates (mul: χ = log_g, n = p − 1, inputs with a zero operand left out; not orthogonal)."""
    from grokviz.core.tasks import Task

    task = Task(task_name, small_run.p)
    coords = task.coordinates()
    model = small_run.model()
    p, n, keys = small_run.p, coords.n, [2, 3]
    train, test = small_run.indices()
    labels = task.labels()
    logits, cache = model.run_with_cache(small_run.tokens())
    logits, post = logits[:, -1].double().detach(), cache["blocks.0.mlp.hook_post"][:, -1].double()
    W_L = (model.blocks[0].mlp.W_out @ model.unembed.W_U).double().detach()
    rows = torch.arange(p * p)
    group = (labels >= 0) & (torch.tensor(coords.phi.values)[rows // p] >= 0) & (torch.tensor(coords.psi.values)[rows % p] >= 0)
    assert int(group.sum()) == (p * p if task_name == "add" else (p - 1) ** 2)
    w = torch.tensor(coords.chi.values)[labels].double()
    train, test = train[group[train]], test[group[test]]
    logits, post, labels, w = logits[group], post[group], labels[group], w[group]
    index = torch.full((p * p,), -1, dtype=torch.long)
    index[group] = torch.arange(int(group.sum()))
    train, test = index[train], index[test]

    def removed(freqs):
        columns = torch.stack([f(2 * math.pi * k * w / n) for k in freqs for f in (torch.cos, torch.sin)], 1)
        columns = columns - columns.mean(0)
        coefficients = torch.linalg.lstsq(columns, post - post.mean(0)).solution
        return (columns @ coefficients) @ W_L

    ours = measure_model(ProgressSetup.build(task, *small_run.indices(), keys), model)
    expected = float(F.cross_entropy((logits - removed(keys))[train], labels[train]))
    assert math.isclose(ours["excluded_loss"], expected, rel_tol=1e-4, abs_tol=1e-6)
    for k in keys:
        expected = float(F.cross_entropy((logits - removed([k]))[train], labels[train]))
        assert math.isclose(ours["excluded_loss_per_freq"][k], expected, rel_tol=1e-4, abs_tol=1e-6), k
    restricted = removed(keys) + logits.mean(0)
    assert math.isclose(ours["restricted_loss"], float(F.cross_entropy(restricted[test], labels[test])), rel_tol=1e-4)


def test_out_of_range_key_frequency_is_a_clear_error(small_run):
    train, test = small_run.indices()
    with pytest.raises(ValueError, match="key frequencies must lie in 1"):
        ProgressSetup.build(small_run.task, train, test, [small_run.p])
