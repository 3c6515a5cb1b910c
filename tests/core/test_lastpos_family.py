"""Every variant of the last-position forward family (grokviz.core.lastpos) against the hooked
model's ``run_with_cache`` at the ``=`` position, for every output each variant produces."""

import pytest
import torch

from grokviz.core.config import ModelConfig
from grokviz.core.data import all_tokens
from grokviz.core.lastpos import InputLayout, attention_tables, last_position_logits, table_parts
from grokviz.core.lastpos.batched import (ensemble_logits, gathered_logits, gathered_pattern, gathered_resid_mid,
                                          stack_models)
from grokviz.core.lastpos.forward import AttentionMix
from grokviz.core.lastpos.grid import GridReadout
from grokviz.core.lastpos.step import TrainStep
from grokviz.core.lastpos.tables import pattern_weights
from grokviz.core.weights import Weights
from tests.conftest import randomised

DIMS = dict(d_model=24, n_heads=3, d_head=8, d_mlp=40)


def _model(p: int, zero_biases: bool, seed: int = 0):
    model = randomised(ModelConfig(p=p, **DIMS), seed=seed)
    if zero_biases:
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if name.split(".")[-1].startswith("b_"):
                    parameter.zero_()
    return model


def reference(model, p: int) -> dict:
    """The hooked model's activations at the last position over all p² inputs (rows a·p + b)."""
    with torch.no_grad():
        logits, cache = model.run_with_cache(all_tokens(p))
    w = Weights.of(model)
    resid_mid = cache["blocks.0.hook_resid_mid"][:, -1]
    return {"pattern": cache["blocks.0.attn.hook_pattern"][:, :, -1].transpose(1, 2),  # [N, key, head]
            "resid_mid": resid_mid, "pre": cache["blocks.0.mlp.hook_pre"][:, -1],
            "post": cache["blocks.0.mlp.hook_post"][:, -1], "resid_post": cache["blocks.0.hook_resid_post"][:, -1],
            "direct_logits": resid_mid @ w.W_U + w.b_U + w.b_out @ w.W_U, "logits": logits[:, -1]}


def autograd_variant(model, p):
    w, layout = Weights.of(model, detach=False), InputLayout.from_rows(torch.arange(p * p), p)
    score_a, score_b, score_eq, _, _ = attention_tables(w)
    return {"pattern": pattern_weights(score_a, score_b, score_eq, layout),
            "resid_mid": AttentionMix.apply(*attention_tables(w), layout),
            "logits": last_position_logits(model, layout)}


def hand_written_variant(model, p):
    labels = torch.zeros(p * p, dtype=torch.long)
    step = TrainStep(Weights.of(model, detach=False), InputLayout.from_rows(torch.arange(p * p), p), labels)
    weights, post, resid_post, logits = step.forward(step.tables(), step.train)
    # b_out rides in the unembedding's bias, so the step's resid_post lacks it
    return {"pattern": weights.keyed.transpose(0, 1), "post": post, "resid_post": resid_post + model.blocks[0].mlp.b_out,
            "logits": logits[:, :p]}


def grid_variant(model, p):
    readout = GridReadout.of(Weights.of(model))
    pre = readout.pre()
    return {"pattern": readout.pattern().reshape(p * p, -1, 3).transpose(1, 2), "resid_mid": readout.resid_mid(),
            "pre": pre, "direct_logits": readout.direct_logits(), "post": pre.relu()}


def batched_variant(model, p):
    rows = torch.arange(p * p)
    a, b = rows // p, rows % p
    parts = table_parts(Weights.of(model))
    pattern = gathered_pattern(parts, a, b)
    return {"pattern": pattern, "resid_mid": gathered_resid_mid(parts, pattern, a, b),
            "logits": gathered_logits(model.state_dict(), a, b)}


def ensemble_variant(model, p):
    """vmap over a stack of this model and another: the first model's logits."""
    other = randomised(ModelConfig(p=p, **DIMS), seed=7)
    rows = torch.arange(p * p)
    params, buffers = stack_models([model, other])
    return {"logits": ensemble_logits(params, buffers, rows // p, rows % p)[0]}


VARIANTS = {"autograd": autograd_variant, "hand_written": hand_written_variant, "grid": grid_variant,
            "batched": batched_variant, "ensemble": ensemble_variant}


@pytest.mark.parametrize("zero_biases", [True, False], ids=["zero-biases", "biases"])
@pytest.mark.parametrize("p", [7, 23])
@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_equals_the_hooked_model_at_the_last_position(variant, p, zero_biases):
    model = _model(p, zero_biases)
    expected = reference(model, p)
    outputs = VARIANTS[variant](model, p)
    assert outputs, variant
    for name, value in outputs.items():
        want = expected[name]
        scale = float(want.abs().max())
        torch.testing.assert_close(value.detach(), want, rtol=0, atol=2e-6 * max(scale, 1.0), msg=f"{variant}: {name}")
