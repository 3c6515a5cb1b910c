"""Attention from the = token (design.md §7: ~0.5 / 0.5 to a and b per head)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from grokviz.analysis.reports import report


@dataclass(frozen=True)
class AttentionReport:
    """``maps`` [head, key_pos (a, b, =), a, b]; ``average`` over heads [key_pos, a, b];
    ``mean`` over all inputs [head, key_pos]."""

    maps: object
    average: torch.Tensor
    mean: torch.Tensor
    keys: tuple = ("a", "b", "=")


@report("attention", "Attention from =")
def attention(session, epoch):
    """Attention pattern of the = query per head over all inputs, its head average and per-head means."""
    from grokviz.analysis.neurons import attention_from_equals

    maps = attention_from_equals(session.model(epoch))
    data = maps.data.float()
    return AttentionReport(maps.with_data(data), data.mean(0), data.mean((2, 3)))
