"""The CPU trainer's hand-written step against autograd through the full hooked forward."""

import pytest
import torch

from grokviz.core.config import ModelConfig
from grokviz.core.data import all_tokens
from grokviz.core.lastpos import InputLayout
from grokviz.core.engines import cross_entropy_float64, eval_chunks, evaluate
from grokviz.core.lastpos.step import TrainStep
from grokviz.core.weights import Weights
from tests.conftest import randomised


def _problem(p, dims, seed, zero_biases=False):
    cfg = ModelConfig(p=p, **dims)
    model = randomised(cfg, seed=seed, scale=cfg.initializer_range * 2)
    if zero_biases:
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if name.split(".")[-1].startswith("b_"):
                    parameter.zero_()
    model.freeze_biases()
    generator = torch.Generator().manual_seed(seed)
    rows = torch.randperm(p * p, generator=generator)[: max(40, p * p // 3)]
    labels = torch.randint(0, p, (len(rows),), generator=generator)
    return model, rows, labels


# p = 32 needs no padding of the classes, 13 and 113 do; biases non-zero as in imported runs, and zero as in ours
@pytest.mark.parametrize("p, dims, zero_biases", [
    (13, dict(d_model=24, n_heads=3, d_head=8, d_mlp=40), False),
    (32, dict(d_model=16, n_heads=1, d_head=16, d_mlp=24), False),
    (113, {}, False),
    (113, {}, True),
])
def test_step_equals_autograd_through_the_hooked_forward(p, dims, zero_biases):
    model, rows, labels = _problem(p, dims, seed=p, zero_biases=zero_biases)
    trainable = [(name, q) for name, q in model.named_parameters() if q.requires_grad]
    full = model(all_tokens(p)[rows])[:, -1]
    loss_full = cross_entropy_float64(full, labels)
    grads_full = torch.autograd.grad(loss_full, [q for _, q in trainable])

    step = TrainStep(Weights.of(model, detach=False), InputLayout.from_rows(rows, p), labels)
    loss, accuracy = step.step(step.tables(), accuracy=True)
    assert abs(float(loss) - loss_full.item()) < 1e-6 * loss_full.item()
    assert accuracy == int((full.argmax(-1) == labels).sum()) / len(labels)
    floor = 1e-3 * max(float(g.abs().max()) for g in grads_full)  # as in test_fast_path_equals_hooked_forward
    for (name, parameter), g_full in zip(trainable, grads_full):
        assert parameter.grad.shape == parameter.shape and parameter.grad.is_contiguous(), name
        scale = max(float(g_full.abs().max()), floor)
        assert float((parameter.grad - g_full).abs().max() / scale) < 1e-4, name


def test_steps_reuse_buffers_and_replace_gradients():
    """A second step on changed weights gives that step's gradients, not a sum (buffers are reused)."""
    model, rows, labels = _problem(13, dict(d_model=24, n_heads=3, d_head=8, d_mlp=40), seed=5)
    step = TrainStep(Weights.of(model, detach=False), InputLayout.from_rows(rows, 13), labels)
    step.step(step.tables())
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.requires_grad:
                parameter.mul_(0.9)
    step.step(step.tables())
    again = [q.grad.clone() for q in model.parameters() if q.requires_grad]
    for q in model.parameters():
        q.grad = None
    fresh = TrainStep(Weights.of(model, detach=False), InputLayout.from_rows(rows, 13), labels)
    fresh.step(fresh.tables())
    for g, q in zip(again, [q for q in model.parameters() if q.requires_grad]):
        torch.testing.assert_close(g, q.grad, rtol=0, atol=0)


def test_evaluation_equals_the_autograd_free_evaluate():
    p = 29
    model, rows, labels = _problem(p, dict(d_model=24, n_heads=3, d_head=8, d_mlp=40), seed=3)
    test_rows = torch.arange(p * p)
    test_labels = torch.randint(0, p, (p * p,), generator=torch.Generator().manual_seed(4))
    chunks = eval_chunks(test_rows, p, max_logits=100 * p)  # several chunks of different sizes
    assert len(chunks) > 2
    weights = Weights.of(model, detach=False)
    step = TrainStep(weights, InputLayout.from_rows(rows, p), labels)
    loss, accuracy = step.evaluate(step.tables(), chunks, test_labels)
    reference_loss, reference_accuracy = evaluate(weights, chunks, test_labels)
    assert abs(loss - reference_loss) < 1e-6 * reference_loss
    assert accuracy == reference_accuracy


def test_prediction_count_is_argmax_with_its_tie_rule():
    from grokviz.core.lastpos.step import _float64_loss

    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(400, 128, generator=generator)[:, :13]  # a strided view, as the step's
    labels = torch.randint(0, 13, (400,), generator=generator)
    logits[:100, 5] = 9.0
    logits[:50, 9] = 9.0  # exact ties between 5 and 9: argmax takes the first
    labels[:25], labels[25:50], labels[50:75] = 5, 9, 5
    logits[150:200] = 0.0  # all tied
    labels[150:160] = 0
    logits[200:300] = torch.randn(100, 13, generator=generator) * 1e-3  # near-uniform: no tie, total ≥ 2
    logits[200:220].scatter_(1, labels[200:220, None], 1.0)
    right = _float64_loss(logits, labels[:, None], count_correct=True)[-1]
    assert int(right) == int((logits.argmax(1) == labels).sum())
    assert int(right) > 50


def test_table_rows_cached_in_inference_mode_still_serve_autograd():
    from grokviz.core.lastpos.forward import last_position_logits
    from grokviz.core.lastpos.tables import table_rows

    p = 17
    table_rows.cache_clear()
    model, rows, labels = _problem(p, dict(d_model=16, n_heads=2, d_head=8, d_mlp=24), seed=1)
    layout = InputLayout.from_rows(rows, p)
    with torch.inference_mode():
        last_position_logits(model, layout)
    cross_entropy_float64(last_position_logits(model, layout), labels).backward()
    assert model.embed.W_E.grad is not None
