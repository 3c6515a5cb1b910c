import math

import pytest
import torch
from transformer_lens import ActivationCache

from grokviz.core.config import ModelConfig
from grokviz.core.data import all_tokens
from grokviz.core.lastpos import InputLayout, last_position_logits
from grokviz.core.model import HOOK_NAMES, GrokTransformer
from tests.conftest import randomised

EXPECTED_SHAPES = {
    "embed.W_E": (114, 128), "pos_embed.W_pos": (3, 128),
    "blocks.0.attn.W_Q": (4, 128, 32), "blocks.0.attn.W_K": (4, 128, 32), "blocks.0.attn.W_V": (4, 128, 32),
    "blocks.0.attn.W_O": (4, 32, 128), "blocks.0.attn.b_Q": (4, 32), "blocks.0.attn.b_K": (4, 32),
    "blocks.0.attn.b_V": (4, 32), "blocks.0.attn.b_O": (128,), "blocks.0.attn.mask": (3, 3),
    "blocks.0.attn.IGNORE": (), "blocks.0.mlp.W_in": (128, 512), "blocks.0.mlp.b_in": (512,),
    "blocks.0.mlp.W_out": (512, 128), "blocks.0.mlp.b_out": (128,), "unembed.W_U": (128, 113), "unembed.b_U": (113,),
}


def test_state_dict_keys_and_shapes():
    state = GrokTransformer(ModelConfig(p=113)).state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == EXPECTED_SHAPES
    assert state["blocks.0.attn.mask"].dtype == torch.bool
    assert torch.equal(state["blocks.0.attn.mask"], torch.tril(torch.ones(3, 3, dtype=torch.bool)))
    assert state["blocks.0.attn.IGNORE"].item() == -math.inf


def test_initialisation_is_hookedtransformers():
    cfg = ModelConfig(p=113)
    model = GrokTransformer(cfg)
    torch.manual_seed(999)
    std = 0.8 / math.sqrt(128)
    for name, parameter in model.named_parameters():
        if "W_" in name:
            expected = torch.empty_like(parameter).normal_(0, std)
            assert torch.equal(parameter, expected), name
        else:
            assert not parameter.any(), name
    assert torch.equal(GrokTransformer(cfg).embed.W_E, model.embed.W_E)  # seed 999 by default


def reference_forward(state, tokens, cfg):
    """design.md §2 written out with plain einsums."""
    resid_pre = state["embed.W_E"][tokens] + state["pos_embed.W_pos"]
    q = torch.einsum("bpd,hde->bphe", resid_pre, state["blocks.0.attn.W_Q"]) + state["blocks.0.attn.b_Q"]
    k = torch.einsum("bpd,hde->bphe", resid_pre, state["blocks.0.attn.W_K"]) + state["blocks.0.attn.b_K"]
    v = torch.einsum("bpd,hde->bphe", resid_pre, state["blocks.0.attn.W_V"]) + state["blocks.0.attn.b_V"]
    scores = torch.einsum("bqhe,bkhe->bhqk", q, k) / math.sqrt(cfg.d_head)
    scores = scores.masked_fill(~torch.tril(torch.ones(3, 3, dtype=torch.bool)), -math.inf)
    pattern = scores.softmax(-1)
    z = torch.einsum("bhqk,bkhe->bqhe", pattern, v)
    attn_out = torch.einsum("bqhe,hed->bqd", z, state["blocks.0.attn.W_O"]) + state["blocks.0.attn.b_O"]
    resid_mid = resid_pre + attn_out
    post = torch.relu(resid_mid @ state["blocks.0.mlp.W_in"] + state["blocks.0.mlp.b_in"])
    resid_post = resid_mid + post @ state["blocks.0.mlp.W_out"] + state["blocks.0.mlp.b_out"]
    return resid_post @ state["unembed.W_U"] + state["unembed.b_U"], pattern


def test_forward_matches_plain_einsum_implementation():
    cfg = ModelConfig(p=13, d_model=24, n_heads=3, d_head=8, d_mlp=40)
    model = randomised(cfg)
    tokens = all_tokens(13)
    logits, pattern = reference_forward(model.state_dict(), tokens, cfg)
    torch.testing.assert_close(model(tokens), logits, atol=1e-5, rtol=1e-5)


def test_run_with_cache_gives_every_hook():
    cfg = ModelConfig(p=11, d_model=16, n_heads=2, d_head=8, d_mlp=32)
    model = randomised(cfg)
    tokens = all_tokens(11)[:20]
    logits, cache = model.run_with_cache(tokens)
    assert set(HOOK_NAMES) <= set(cache.keys())
    assert cache["blocks.0.attn.hook_pattern"].shape == (20, 2, 3, 3)
    assert cache["blocks.0.mlp.hook_post"].shape == (20, 3, 32)
    activation_cache = ActivationCache(cache, model)
    torch.testing.assert_close(activation_cache["blocks.0.hook_resid_post"] @ model.W_U + model.unembed.b_U, logits)
    _, wrapped = model.run_with_activation_cache(tokens)
    assert isinstance(wrapped, ActivationCache)


def test_fast_path_on_a_trained_model(small_run):
    model = small_run.model()
    tokens = small_run.tokens()
    fast = last_position_logits(model, InputLayout.from_rows(torch.arange(len(tokens)), small_run.p))
    full = model(tokens)[:, -1]
    # float32 round-off grows with the logits' size: equal to 1e-5 of the largest logit
    torch.testing.assert_close(fast, full, atol=1e-5 * float(full.abs().max()), rtol=0)


@pytest.mark.parametrize("p, dims", [(13, dict(d_model=24, n_heads=3, d_head=8, d_mlp=40)), (113, {})])
def test_fast_path_equals_hooked_forward(p, dims):
    cfg = ModelConfig(p=p, **dims)
    model = randomised(cfg, seed=p, scale=cfg.initializer_range * 2)
    tokens = all_tokens(p)
    rows = torch.randperm(p * p, generator=torch.Generator().manual_seed(1))[: max(50, p * p // 3)]
    layout = InputLayout.from_rows(rows, p)
    fast = last_position_logits(model, layout)
    full = model(tokens[rows])[:, -1]
    torch.testing.assert_close(fast, full, atol=1e-5, rtol=1e-5)

    labels = torch.randint(0, p, (len(rows),), generator=torch.Generator().manual_seed(2))
    params = [q for q in model.parameters()]
    grads_fast = torch.autograd.grad(torch.nn.functional.cross_entropy(fast.double(), labels), params)
    full = model(tokens[rows])[:, -1]
    grads_full = torch.autograd.grad(torch.nn.functional.cross_entropy(full.double(), labels), params)
    # b_K's gradient is exactly zero in exact arithmetic (a shared shift of every key score), so
    # relative errors are taken against max(|g|, 1e-3 · the largest gradient of any parameter).
    floor = 1e-3 * max(float(g.abs().max()) for g in grads_full)
    for (name, _), g_fast, g_full in zip(model.named_parameters(), grads_fast, grads_full):
        scale = max(float(g_full.abs().max()), floor)
        assert float((g_fast - g_full).abs().max() / scale) < 1e-4, name


def test_attention_mix_backward_is_the_exact_gradient():
    """The hand-written backward of AttentionMix against finite differences (float64)."""
    from grokviz.core.lastpos.forward import AttentionMix

    p, heads, width = 5, 2, 3
    generator = torch.Generator().manual_seed(0)
    rows = torch.tensor([0, 3, 7, 8, 12, 13, 19, 24, 6])  # uneven group sizes by a and by b
    layout = InputLayout.from_rows(rows, p)
    inputs = [torch.randn(shape, generator=generator, dtype=torch.float64, requires_grad=True)
              for shape in [(p, heads), (p, heads), (heads,), ((2 * p + 1) * heads, width), (width,)]]
    assert torch.autograd.gradcheck(lambda *x: AttentionMix.apply(*x, layout), inputs)
