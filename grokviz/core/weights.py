"""The parameters of design.md §2 as plain tensors, from a model or a bare state dict."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from grokviz.core.config import ModelConfig

_ATTN = ("W_Q", "W_K", "W_V", "W_O", "b_Q", "b_K", "b_V", "b_O")
_MLP = ("W_in", "b_in", "W_out", "b_out")
# short name → state-dict key, in the model's parameter order (buffers mask / IGNORE are not weights)
_KEYS = {"W_E": "embed.W_E", "W_pos": "pos_embed.W_pos", **{f: f"blocks.0.attn.{f}" for f in _ATTN},
         **{f: f"blocks.0.mlp.{f}" for f in _MLP}, "W_U": "unembed.W_U", "b_U": "unembed.b_U"}


def expected_shapes(cfg: ModelConfig) -> dict:
    """State-dict keys and shapes of design.md §2 for ``cfg``, without allocating a model."""
    d, h, e, m, p = cfg.d_model, cfg.n_heads, cfg.d_head, cfg.d_mlp, cfg.p
    return {
        "embed.W_E": (p + 1, d), "pos_embed.W_pos": (cfg.n_ctx, d),
        "blocks.0.attn.W_Q": (h, d, e), "blocks.0.attn.W_K": (h, d, e), "blocks.0.attn.W_V": (h, d, e),
        "blocks.0.attn.W_O": (h, e, d), "blocks.0.attn.b_Q": (h, e), "blocks.0.attn.b_K": (h, e),
        "blocks.0.attn.b_V": (h, e), "blocks.0.attn.b_O": (d,), "blocks.0.attn.mask": (cfg.n_ctx, cfg.n_ctx),
        "blocks.0.attn.IGNORE": (), "blocks.0.mlp.W_in": (d, m), "blocks.0.mlp.b_in": (m,),
        "blocks.0.mlp.W_out": (m, d), "blocks.0.mlp.b_out": (d,), "unembed.W_U": (d, p), "unembed.b_U": (p,),
    }


@dataclass(frozen=True)
class Weights:
    """One-layer model weights by their short names (``W_E``, ``W_Q``, ``W_in``, …)."""

    W_E: torch.Tensor
    W_pos: torch.Tensor
    W_Q: torch.Tensor
    W_K: torch.Tensor
    W_V: torch.Tensor
    W_O: torch.Tensor
    b_Q: torch.Tensor
    b_K: torch.Tensor
    b_V: torch.Tensor
    b_O: torch.Tensor
    W_in: torch.Tensor
    b_in: torch.Tensor
    W_out: torch.Tensor
    b_out: torch.Tensor
    W_U: torch.Tensor
    b_U: torch.Tensor

    @property
    def p(self) -> int:
        return self.W_U.shape[1]

    @property
    def attn_scale(self) -> float:
        return math.sqrt(self.W_Q.shape[-1])

    @property
    def direct_bias(self) -> torch.Tensor:
        """b_U + b_out·W_U [p]: the logits' bias once b_out is folded through the unembedding."""
        return torch.addmv(self.b_U, self.W_U.T, self.b_out)

    @property
    def w_logit(self) -> torch.Tensor:
        """W_out·W_U [d_mlp, p]: each neuron's direct effect on the logits."""
        return self.W_out @ self.W_U

    def named_parameters(self):
        """(state-dict key, tensor) for every parameter, in the model's order."""
        return [(key, getattr(self, name)) for name, key in _KEYS.items()]

    @classmethod
    def of(cls, source, detach: bool = True) -> "Weights":
        """From :class:`Weights`, a GrokTransformer or a state dict with design.md §2's keys.

        ``detach=False`` keeps a model's parameters themselves (for autograd through them).
        """
        if isinstance(source, Weights):
            return source
        if isinstance(source, dict):
            state = source
        else:
            state = source.state_dict(keep_vars=not detach)
        missing = [key for key in _KEYS.values() if key not in state]
        if missing:
            raise KeyError(f"state dict lacks {missing}")
        return cls(**{name: (state[key].detach() if detach else state[key]) for name, key in _KEYS.items()})
