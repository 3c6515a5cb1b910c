"""StableMax loss and ⊥Grad (design.md §6b): the formulas, every engine's step, and the optimiser step."""

import math

import pytest
import torch

from grokviz.core.config import ModelConfig, TrainConfig
from grokviz.core.data import all_tokens
from grokviz.core.engines import AutogradEngine, HandWrittenEngine, Split
from grokviz.core.errors import ParameterError
from grokviz.core.lastpos import InputLayout
from grokviz.core.lastpos.step import TrainStep
from grokviz.core.losses import stablemax_cross_entropy, stablemax_rows, stablemax_s
from grokviz.core.orthograd import project_gradients
from grokviz.core.weights import Weights
from tests.conftest import randomised


def _direct_loss(row, label):
    """−log s(z_y)/Σ s(z_j) with s written out, in Python floats."""
    s = [x + 1 if x >= 0 else 1 / (1 - x) for x in row]
    return -math.log(s[label] / sum(s))


def test_s_and_the_loss_against_the_written_out_formula():
    x = torch.tensor([-3.0, -0.5, 0.0, 0.5, 4.0], dtype=torch.float64)
    assert stablemax_s(x).tolist() == pytest.approx([0.25, 1 / 1.5, 1.0, 1.5, 5.0])
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(7, 5, generator=generator, dtype=torch.float64) * 4
    labels = torch.randint(0, 5, (7,), generator=generator)
    expected = sum(_direct_loss(row.tolist(), int(y)) for row, y in zip(logits, labels)) / 7
    assert float(stablemax_cross_entropy(logits, labels)) == pytest.approx(expected, rel=1e-12)
    row_loss, _ = stablemax_rows(logits, labels[:, None])
    assert row_loss.mean().item() == pytest.approx(expected, rel=1e-12)


def test_stablemax_gradient_formula_equals_autograd_and_finite_differences():
    generator = torch.Generator().manual_seed(1)
    logits = (torch.randn(6, 9, generator=generator, dtype=torch.float64) * 3).requires_grad_(True)
    labels = torch.randint(0, 9, (6,), generator=generator)
    (autograd,) = torch.autograd.grad(stablemax_cross_entropy(logits, labels), logits)
    _, formula = stablemax_rows(logits.detach(), labels[:, None])
    torch.testing.assert_close(formula / 6, autograd, rtol=1e-12, atol=1e-14)
    # one entry by central differences (s is C¹ at 0: both branches have slope 1 there)
    i, j, h = 2, 4, 1e-6
    plus, minus = logits.detach().clone(), logits.detach().clone()
    plus[i, j] += h
    minus[i, j] -= h
    numeric = (stablemax_cross_entropy(plus, labels) - stablemax_cross_entropy(minus, labels)) / (2 * h)
    assert float(numeric) == pytest.approx(float(autograd[i, j]), rel=1e-6)


def test_stablemax_does_not_collapse_where_softmax_does():
    """A margin of 120 rounds the float32 softmax to exactly 1 (zero gradient); StableMax keeps a gradient."""
    logits = torch.zeros(1, 5)
    logits[0, 2] = 120.0
    labels = torch.tensor([2])
    assert float(torch.softmax(logits, -1)[0, 2]) == 1.0
    _, grad = stablemax_rows(logits, labels[:, None])
    assert float(grad.abs().max()) > 1e-3


def _engines(p, dims, seed, loss):
    cfg = ModelConfig(p=p, **dims)
    model = randomised(cfg, seed=seed, scale=cfg.initializer_range * 2)
    model.freeze_biases()
    generator = torch.Generator().manual_seed(seed)
    perm = torch.randperm(p * p, generator=generator)
    labels = torch.randint(0, p, (p * p,), generator=generator)
    split = Split.of(perm[: p * p // 2], perm[p * p // 2:], labels, p)
    trainable = [q for q in model.parameters() if q.requires_grad]
    return model, trainable, split


@pytest.mark.parametrize("p, dims", [(13, dict(d_model=24, n_heads=3, d_head=8, d_mlp=40)), (32, dict(d_model=16, n_heads=1, d_head=16, d_mlp=24))])
def test_hand_written_stablemax_step_equals_autograd(p, dims):
    model, trainable, split = _engines(p, dims, seed=p, loss="stablemax")
    weights = Weights.of(model, detach=False)
    hand = HandWrittenEngine(weights, trainable, split, loss="stablemax").step(evaluating=True)
    hand_grads = [q.grad.clone() for q in trainable]
    auto = AutogradEngine(weights, trainable, split, loss="stablemax").step(evaluating=True)
    assert float(hand.loss) == pytest.approx(float(auto.loss), rel=1e-6)
    assert hand.train_acc == auto.train_acc and hand.test_acc == auto.test_acc
    assert hand.test_loss == pytest.approx(auto.test_loss, rel=1e-6)
    floor = 1e-3 * max(float(q.grad.abs().max()) for q in trainable)
    for mine, q in zip(hand_grads, trainable):
        scale = max(float(q.grad.abs().max()), floor)
        assert float((mine - q.grad).abs().max()) / scale < 1e-5
    # and against the full hooked forward (not the fast path), to the same tolerance
    with torch.no_grad():
        full = model(all_tokens(p)[split.train_rows])[:, -1]
    assert float(stablemax_cross_entropy(full, split.train_labels)) == pytest.approx(float(hand.loss), rel=1e-6)


def test_step_rejects_an_unknown_loss():
    model, trainable, split = _engines(13, dict(d_model=16, n_heads=2, d_head=8, d_mlp=24), 0, "x")
    with pytest.raises(ParameterError, match="loss"):
        TrainStep(Weights.of(model, detach=False), split.train_layout, split.train_labels, loss="focal")
    with pytest.raises(ParameterError, match="loss"):
        TrainConfig(loss="focal")
    with pytest.raises(ParameterError, match="optimizer"):
        TrainConfig(optimizer="sgd")


def test_projection_leaves_gradients_orthogonal_to_their_weights():
    generator = torch.Generator().manual_seed(2)
    tensors = [torch.randn(shape, generator=generator).requires_grad_(True) for shape in ((5, 7), (11,), (3, 4, 2))]
    zero = torch.zeros(4, requires_grad=True)
    for t in tensors + [zero]:
        t.grad = torch.randn(t.shape, generator=generator) + 0.5 * t.detach()  # a part along θ to remove
    before = [t.grad.clone() for t in tensors]
    untouched = zero.grad.clone()
    project_gradients(tensors + [zero])
    for t, g in zip(tensors, before):
        theta = t.detach().double().reshape(-1)
        new = t.grad.double().reshape(-1)
        assert abs(float(new @ theta)) < 1e-6 * float(new.norm() * theta.norm())
        # only the component along θ went: the difference is a multiple of θ
        removed = (g.double().reshape(-1) - new)
        coefficient = float(g.double().reshape(-1) @ theta / (theta @ theta))
        torch.testing.assert_close(removed, coefficient * theta, rtol=1e-5, atol=1e-6)
    assert torch.equal(zero.grad, untouched)  # no direction to remove


def test_stacked_projection_is_per_model():
    generator = torch.Generator().manual_seed(3)
    stacked = torch.randn(3, 4, 5, generator=generator).requires_grad_(True)
    stacked.grad = torch.randn(3, 4, 5, generator=generator)
    singles = [stacked[i].detach().clone().requires_grad_(True) for i in range(3)]
    for i, single in enumerate(singles):
        single.grad = stacked.grad[i].clone()
    project_gradients([stacked], stacked=True)
    project_gradients(singles)
    for i, single in enumerate(singles):
        torch.testing.assert_close(stacked.grad[i], single.grad)
        assert abs(float((stacked.grad[i] * stacked[i].detach()).sum())) < 1e-5


def test_orthoadamw_is_the_projection_then_the_recipes_adamw():
    """One schedule step with optimizer orthoadamw equals: engine gradient, projection, AdamW."""
    from grokviz.core.schedule import Schedule
    from grokviz.core.training import TrainingControl

    dims = dict(d_model=16, n_heads=2, d_head=8, d_mlp=24)
    config = TrainConfig(epochs=1, device="cpu", optimizer="orthoadamw", eval_every=1000)
    results = []
    for manual in (False, True):
        model, trainable, split = _engines(13, dims, seed=4, loss="cross_entropy")
        engine = AutogradEngine(Weights.of(model, detach=False), trainable, split)
        optimizer = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=config.weight_decay, betas=config.betas,
                                      fused=True)
        if manual:
            engine.step(evaluating=False)
            for q in trainable:
                theta, g = q.detach().double().reshape(-1), q.grad.double().reshape(-1)
                q.grad = (g - (g @ theta) / (theta @ theta) * theta).to(q.dtype).view_as(q)
            optimizer.step()
        else:
            Schedule(config, engine, optimizer, None, TrainingControl()).run(
                0, on_evaluated=lambda *a: None, on_checkpoint=lambda e: None)
        results.append([q.detach().clone() for q in trainable])
    for ours, reference in zip(*results):
        torch.testing.assert_close(ours, reference, rtol=1e-6, atol=1e-7)
