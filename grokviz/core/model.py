"""GrokTransformer: the classic 1-layer HookedTransformer rebuilt on TransformerLens 4.x infrastructure.

Parameter names, shapes, hook names and numerics follow design.md §2, so Grokking-demo
state dicts load with a plain ``load_state_dict`` and ``run_with_cache`` works as in the notebooks.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from transformer_lens import ActivationCache, HookedRootModule
from transformer_lens.hook_points import HookPoint

from grokviz.core.config import ModelConfig

# Hooks in forward order, with what their trailing axes mean (batch and position come first).
HOOK_NAMES = (
    "hook_embed",
    "hook_pos_embed",
    "blocks.0.hook_resid_pre",
    "blocks.0.attn.hook_q",
    "blocks.0.attn.hook_k",
    "blocks.0.attn.hook_v",
    "blocks.0.attn.hook_attn_scores",
    "blocks.0.attn.hook_pattern",
    "blocks.0.attn.hook_z",
    "blocks.0.hook_attn_out",
    "blocks.0.hook_resid_mid",
    "blocks.0.mlp.hook_pre",
    "blocks.0.mlp.hook_post",
    "blocks.0.hook_mlp_out",
    "blocks.0.hook_resid_post",
)


class Embed(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.W_E = nn.Parameter(torch.empty(cfg.d_vocab, cfg.d_model))

    def forward(self, tokens):
        return self.W_E[tokens]


class PosEmbed(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.W_pos = nn.Parameter(torch.empty(cfg.n_ctx, cfg.d_model))

    def forward(self, tokens):
        batch, positions = tokens.shape
        return self.W_pos[:positions].unsqueeze(0).expand(batch, positions, -1)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        heads, d_model, d_head = cfg.n_heads, cfg.d_model, cfg.d_head
        self.W_Q = nn.Parameter(torch.empty(heads, d_model, d_head))
        self.W_K = nn.Parameter(torch.empty(heads, d_model, d_head))
        self.W_V = nn.Parameter(torch.empty(heads, d_model, d_head))
        self.W_O = nn.Parameter(torch.empty(heads, d_head, d_model))
        self.b_Q = nn.Parameter(torch.zeros(heads, d_head))
        self.b_K = nn.Parameter(torch.zeros(heads, d_head))
        self.b_V = nn.Parameter(torch.zeros(heads, d_head))
        self.b_O = nn.Parameter(torch.zeros(d_model))
        self.register_buffer("mask", torch.tril(torch.ones(cfg.n_ctx, cfg.n_ctx, dtype=torch.bool)))
        self.register_buffer("IGNORE", torch.tensor(-float("inf")))
        self.attn_scale = math.sqrt(d_head)
        self.hook_q = HookPoint()
        self.hook_k = HookPoint()
        self.hook_v = HookPoint()
        self.hook_attn_scores = HookPoint()
        self.hook_pattern = HookPoint()
        self.hook_z = HookPoint()

    def forward(self, resid):
        q = self.hook_q(torch.einsum("bpd,hde->bphe", resid, self.W_Q) + self.b_Q)
        k = self.hook_k(torch.einsum("bpd,hde->bphe", resid, self.W_K) + self.b_K)
        v = self.hook_v(torch.einsum("bpd,hde->bphe", resid, self.W_V) + self.b_V)
        scores = torch.einsum("bqhe,bkhe->bhqk", q, k) / self.attn_scale
        positions = resid.shape[1]
        mask = self.mask[:positions, :positions]
        scores = self.hook_attn_scores(torch.where(mask, scores, self.IGNORE.to(scores.dtype)))
        pattern = self.hook_pattern(F.softmax(scores, dim=-1))
        z = self.hook_z(torch.einsum("bhqk,bkhe->bqhe", pattern, v))
        return torch.einsum("bqhe,hed->bqd", z, self.W_O) + self.b_O


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.W_in = nn.Parameter(torch.empty(cfg.d_model, cfg.d_mlp))
        self.b_in = nn.Parameter(torch.zeros(cfg.d_mlp))
        self.W_out = nn.Parameter(torch.empty(cfg.d_mlp, cfg.d_model))
        self.b_out = nn.Parameter(torch.zeros(cfg.d_model))
        self.hook_pre = HookPoint()
        self.hook_post = HookPoint()

    def forward(self, resid):
        pre = self.hook_pre(resid @ self.W_in + self.b_in)
        post = self.hook_post(F.relu(pre))
        return post @ self.W_out + self.b_out


class TransformerBlock(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.attn = Attention(cfg)
        self.mlp = MLP(cfg)
        self.hook_resid_pre = HookPoint()
        self.hook_attn_out = HookPoint()
        self.hook_resid_mid = HookPoint()
        self.hook_mlp_out = HookPoint()
        self.hook_resid_post = HookPoint()

    def forward(self, resid_pre):
        resid_pre = self.hook_resid_pre(resid_pre)
        resid_mid = self.hook_resid_mid(resid_pre + self.hook_attn_out(self.attn(resid_pre)))
        return self.hook_resid_post(resid_mid + self.hook_mlp_out(self.mlp(resid_mid)))


class Unembed(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.W_U = nn.Parameter(torch.empty(cfg.d_model, cfg.d_vocab_out))
        self.b_U = nn.Parameter(torch.zeros(cfg.d_vocab_out))

    def forward(self, resid):
        return resid @ self.W_U + self.b_U


class GrokTransformer(HookedRootModule):
    """1-layer transformer with HookedTransformer's names, hooks, numerics and initialisation."""

    def __init__(self, cfg: ModelConfig, init: bool = True):
        super().__init__()
        self.cfg = cfg
        self.embed = Embed(cfg)
        self.hook_embed = HookPoint()
        self.pos_embed = PosEmbed(cfg)
        self.hook_pos_embed = HookPoint()
        self.blocks = nn.ModuleList([TransformerBlock(cfg)])
        self.unembed = Unembed(cfg)
        self.setup()
        if init:
            self.init_weights(cfg.seed)

    @torch.no_grad()
    def init_weights(self, seed: int | None = None) -> None:
        """HookedTransformer's default ("gpt2") init: every ``W_*`` ~ N(0, (0.8/√d_model)²), biases 0."""
        if seed is not None:
            torch.manual_seed(seed)
        for name, parameter in self.named_parameters():
            if "W_" in name:
                nn.init.normal_(parameter, std=self.cfg.initializer_range)
            else:
                parameter.zero_()

    def freeze_biases(self) -> None:
        """The notebook recipe trains weights only (design.md §4)."""
        for name, parameter in self.named_parameters():
            if name.split(".")[-1].startswith("b_"):
                parameter.requires_grad_(False)

    def forward(self, tokens: torch.Tensor, return_type: str = "logits"):
        resid = self.hook_embed(self.embed(tokens)) + self.hook_pos_embed(self.pos_embed(tokens))
        for block in self.blocks:
            resid = block(resid)
        logits = self.unembed(resid)
        if return_type == "logits":
            return logits
        if return_type is None:
            return None
        raise ValueError(f"unknown return_type {return_type!r}")

    def run_with_activation_cache(self, tokens: torch.Tensor, **kwargs):
        """``run_with_cache`` wrapped as a TransformerLens ``ActivationCache``."""
        logits, cache = self.run_with_cache(tokens, **kwargs)
        return logits, ActivationCache(cache, self)

    # Convenience views of the weights under their TransformerLens names.
    @property
    def W_E(self):
        return self.embed.W_E

    @property
    def W_pos(self):
        return self.pos_embed.W_pos

    @property
    def W_U(self):
        return self.unembed.W_U
