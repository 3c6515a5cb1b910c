"""Last-position (``=``) activations for the full p×p input grid, shaped ``[p, p, ...]``.

The computation is :class:`grokviz.core.lastpos.grid.GridReadout` (read out of the attention
tables, design.md §2); it takes a model or a bare state dict, so the progress measures never
build a module per checkpoint. Mathematically the hooked forward at the last position (tested
against ``run_with_cache`` in ``tests/core/test_lastpos_family.py``).
"""

from __future__ import annotations

import torch

from grokviz.core.lastpos.grid import GridReadout
from grokviz.core.weights import Weights

GRID_OUTPUTS = ("pattern", "resid_mid", "pre", "post", "direct_logits", "logits")


@torch.no_grad()
def last_position_grid(source, outputs=("post", "logits")) -> dict:
    """Quantities at the ``=`` position over the [a, b] grid (each ``[p, p, ...]``).

    ``source``: a model, a state dict or :class:`grokviz.core.weights.Weights`. ``outputs`` ⊂
    ``pattern`` [a,b,head,key_pos], ``resid_mid``, ``pre``, ``post`` [a,b,d_mlp],
    ``direct_logits`` (resid_mid·W_U + b_U + b_out·W_U: everything but the neurons) and
    ``logits`` [a,b,p] (= ``model(tokens)[:, -1]`` reshaped); see :class:`GridReadout`.
    """
    unknown = set(outputs) - set(GRID_OUTPUTS)
    if unknown:
        raise ValueError(f"unknown outputs {sorted(unknown)}; choose from {GRID_OUTPUTS}")
    w = Weights.of(source)
    p = w.p
    readout = GridReadout.of(w)
    result = {}
    if "pattern" in outputs:
        result["pattern"] = readout.pattern()
    if "resid_mid" in outputs:
        result["resid_mid"] = readout.resid_mid().view(p, p, -1)
    if {"pre", "post", "logits"} & set(outputs):
        pre = readout.pre()
        if "pre" in outputs:
            result["pre"] = (pre.clone() if {"post", "logits"} & set(outputs) else pre).view(p, p, -1)
        result["post"] = pre.relu_().view(p, p, -1)
    if {"direct_logits", "logits"} & set(outputs):
        direct = readout.direct_logits()
        if "direct_logits" in outputs:
            result["direct_logits"] = (direct.clone() if "logits" in outputs else direct).view(p, p, -1)
        if "logits" in outputs:
            result["logits"] = direct.addmm_(result["post"].view(p * p, -1), w.w_logit).view(p, p, -1)
    return {k: v for k, v in result.items() if k in outputs}
