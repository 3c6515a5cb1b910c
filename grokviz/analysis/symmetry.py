"""Operand-swap symmetry and the c/2 cosine model (design.md §6 "Symmetry points", "c/2 cosine model", §6a).

* :func:`swap_symmetry_score` — corr over inputs of x(a, b) and x(b, a), for tensors with axes
  ``a`` and ``b``; defined when f(a, b) = f(b, a) (add, mul, pow with m = n,
  :func:`grokviz.core.coordinates.swap_symmetric`). For add it is exactly the [c, a] vs
  [c, c − a] score of :func:`symmetry_score` (the same pairs of cells).
* :func:`fit_c2_task` — the c/2 model in task coordinates u = φ(a), v = ψ(b), w = χ(c):
  x ≈ mean_w + Σ_k ½[α_k(cos w_k u + cos w_k v) + β_k(sin w_k u + sin w_k v)], which is
  Σ_k M_k·cos(φ_k + πk w/n)·cos(2πk(u − w/2)/n) written without the half-angles;
  :func:`fit_c2_model` is the same fit on an add-style [c, a] grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from grokviz.analysis.labelled import LabelledTensor


def _to_ca(tensor: LabelledTensor, per=()) -> tuple[torch.Tensor, torch.Tensor | None, tuple]:
    """Data as [per..., rest, c, a] float64 (rest flattened), valid mask [c, a] or None, per axes."""
    names = tensor.names
    dim_c, dim_a = tensor.dim("c"), tensor.dim("a")
    per_dims = [tensor.dim(n) for n in per]
    rest = [i for i in range(len(names)) if i not in per_dims + [dim_c, dim_a]]
    data = tensor.data.permute(per_dims + rest + [dim_c, dim_a]).double()
    shape = [tensor.data.shape[i] for i in per_dims]
    data = data.reshape(shape + [-1] + list(data.shape[-2:]))
    valid = None
    if tensor.valid is not None:
        valid = tensor.valid
        if valid.dim() > 2:
            valid = valid.reshape(-1, *valid.shape[-2:]).all(0)
    return data, valid, tuple(tensor.axes[i] for i in per_dims)


def swap_index(p: int) -> torch.Tensor:
    """[c, a] → (c − a) mod p: the partner a ↔ b = c − a."""
    c = torch.arange(p)[:, None]
    a = torch.arange(p)[None, :]
    return (c - a) % p


def _pooled_correlation(x: torch.Tensor, y: torch.Tensor, n_per: int, scale: float):
    """Correlation of paired series ``x``, ``y`` [per..., series, cells], each series centred over its cells."""
    # centre each series (one per index of the other axes) over its own cells, then pool:
    # per-dimension offsets would otherwise make any tensor look symmetric
    x = x - x.mean(-1, keepdim=True)
    y = y - y.mean(-1, keepdim=True)
    x = x.reshape(x.shape[:n_per] + (-1,))
    y = y.reshape(y.shape[:n_per] + (-1,))
    denominator = (x.square().sum(-1) * y.square().sum(-1)).sqrt()
    # constant up to float32 rounding (e.g. hook_embed or hook_q at '='): no correlation defined
    tiny = denominator <= (1e-6 * scale) ** 2 * x.shape[-1]
    score = torch.where(tiny, torch.full_like(denominator, float("nan")), (x * y).sum(-1) / denominator.clamp_min(1e-300))
    return float(score) if not n_per else score


def symmetry_score(tensor: LabelledTensor, per=()):
    """Correlation over all entries of x[..., c, a] with x[..., c, (c − a) mod p] (design.md §6).

    Each series (an index of the other axes, e.g. one d_model dimension) is first centred over
    its own cells, so constant offsets between dimensions do not count as symmetry.

    1 = symmetric, −1 = antisymmetric, NaN for a constant tensor. ``per`` names axes to keep
    (e.g. ``("d_model",)`` → one score per dimension as a tensor); otherwise a float. Invalid
    cells of ragged layouts (and their partners) are left out. Only for add-style [c, a] grids;
    any task's activations over [a, b] use :func:`swap_symmetry_score`.
    """
    data, valid, _ = _to_ca(tensor, per)
    p = data.shape[-1]
    if data.shape[-2] != p:
        raise ValueError("symmetry_score needs a square [c, a] grid")
    cc = torch.arange(p)[:, None].expand(p, p)
    swapped = data[..., cc, swap_index(p)]
    mask = torch.ones(p, p, dtype=torch.bool) if valid is None else (valid & valid[cc, swap_index(p)])
    scale = float(data.abs().amax()) if data.numel() else 0.0
    return _pooled_correlation(data[..., mask], swapped[..., mask], len(per), scale)


def swap_symmetry_score(tensor: LabelledTensor, per=()):
    """Operand-swap symmetry corr(x(a, b), x(b, a)) over all inputs (design.md §6a).

    ``tensor`` has axes ``a`` and ``b`` (e.g. an activation store's hook at one position); the
    other axes are series, centred and pooled as in :func:`symmetry_score`, whose value it equals
    for add. ``per`` keeps named axes. Whether the score means anything for a task is
    :func:`grokviz.core.coordinates.swap_symmetric`'s to say.
    """
    names = tensor.names
    dim_a, dim_b = tensor.dim("a"), tensor.dim("b")
    per_dims = [tensor.dim(n) for n in per]
    rest = [i for i in range(len(names)) if i not in per_dims + [dim_a, dim_b]]
    data = tensor.data.permute(per_dims + rest + [dim_a, dim_b]).double()
    data = data.reshape([tensor.data.shape[i] for i in per_dims] + [-1] + list(data.shape[-2:]))
    if data.shape[-1] != data.shape[-2]:
        raise ValueError("swap_symmetry_score needs a square [a, b] grid")
    scale = float(data.abs().amax()) if data.numel() else 0.0
    flat = data.flatten(-2)
    return _pooled_correlation(flat, data.transpose(-1, -2).flatten(-2), len(per), scale)


def _c2_design(u: torch.Tensor, v: torch.Tensor, n: int, freqs) -> torch.Tensor:
    """[2K, rows]: ½(cos w_k u + cos w_k v) and ½(sin w_k u + sin w_k v) per key frequency k.

    With w = u + v these are cos(πkw/n)·cos(2πk(u − w/2)/n) and sin(πkw/n)·cos(2πk(u − w/2)/n)
    (design.md §6), independent of the representative of w mod n.
    """
    rows = []
    for k in freqs:
        angle_u, angle_v = 2 * math.pi * k * u / n, 2 * math.pi * k * v / n
        rows.append(0.5 * (torch.cos(angle_u) + torch.cos(angle_v)))
        rows.append(0.5 * (torch.sin(angle_u) + torch.sin(angle_v)))
    return torch.stack(rows) if rows else torch.zeros(0, len(u), dtype=torch.float64)


def _fit_c2_rows(y: torch.Tensor, u, v, w, n: int, freqs):
    """Least squares of y [L, rows] on the c/2 design, with a free mean per answer w.

    Returns (coef [L, 2K], fitted [L, rows] including the means, r2, r2_per [L]).
    """
    groups = torch.unique(w, return_inverse=True)[1]
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    counts = torch.zeros(n_groups, dtype=torch.float64).index_add_(0, groups, torch.ones(len(w), dtype=torch.float64))

    def group_mean(x):
        return (torch.zeros(len(x), n_groups, dtype=torch.float64).index_add_(1, groups, x) / counts)[:, groups]

    mean = group_mean(y)
    centred = y - mean
    if freqs:
        # regressors centred per answer too (the per-answer means are free parameters): a no-op for
        # add, where each wave averages to 0 over a full cycle, but not where φ is many-to-one
        design = _c2_design(u.double(), v.double(), n, freqs)
        design = design - group_mean(design)
        coef = torch.linalg.lstsq(design.T, centred.T).solution.T  # [L, 2K]
        fitted = coef @ design
    else:
        coef = centred.new_zeros(len(y), 0)
        fitted = torch.zeros_like(centred)
    total = centred.square().sum(-1)
    residual = (centred - fitted).square().sum(-1)
    r2_per = torch.where(total > 0, 1 - residual / total.clamp_min(1e-300), torch.full_like(total, float("nan")))
    r2 = float(1 - residual.sum() / total.sum()) if float(total.sum()) > 0 else float("nan")
    return coef, fitted + mean, r2, r2_per


@dataclass(frozen=True)
class C2Fit:
    """The c/2 cosine model fitted to one hook (design.md §6).

    activation(c, a) ≈ mean_a(c) + Σ_k M_k·cos(φ_k + πkc/p)·cos(2πk(a − c/2)/p) (in task
    coordinates: u, w, n for a, c, p). ``amplitude``/``phase`` are [..., K] (leading axes = the
    hook's other axes, flattened unless ``per`` was given), ``r2`` the fraction of the variance
    around the per-answer mean explained (all entries together), ``r2_per`` per leading index,
    ``waves`` the model's synthetic activations (same axes as the input) for overlays.
    """

    freqs: list
    amplitude: torch.Tensor
    phase: torch.Tensor
    r2: float
    r2_per: torch.Tensor
    waves: LabelledTensor


def _c2_result(tensor, freqs, lead, lead_shape, data_shape, order, coef, fitted, r2, r2_per, fill=None):
    alpha, beta = coef[:, 0::2], coef[:, 1::2]
    amplitude = torch.sqrt(alpha.square() + beta.square())
    phase = torch.atan2(-beta, alpha)
    if fill is not None:
        fitted = fill(fitted)
    waves = fitted.reshape(data_shape)
    inverse = [0] * len(order)
    for position, dim in enumerate(order):
        inverse[dim] = position
    waves = waves.permute(inverse).to(tensor.data.dtype)
    return C2Fit(freqs, amplitude.reshape(lead_shape + (len(freqs),)), phase.reshape(lead_shape + (len(freqs),)),
                 r2, r2_per.reshape(lead_shape), tensor.with_data(waves, title=f"c/2 model of {tensor.title}"))


def _grid_last(tensor: LabelledTensor, first: str, second: str):
    """(other dims, permutation, float64 data) with the ``first``, ``second`` grid axes moved last."""
    dims = (tensor.dim(first), tensor.dim(second))
    lead = [i for i in range(len(tensor.names)) if i not in dims]
    order = lead + list(dims)
    return lead, order, tensor.data.permute(order).double()


def fit_c2_model(tensor: LabelledTensor, freqs) -> C2Fit:
    """The c/2 model on an add-style [c, a] grid (b = c − a mod p; design.md §6).

    Equivalent to fitting ½Σ_k M_k[cos(φ_k + w_k a) + cos(φ_k + w_k b)] with b = c − a: waves
    of a and b with equal amplitude and phase, i.e. symmetric about a = c/2. Other tasks:
    :func:`fit_c2_task` on the [a, b] grid.
    """
    if tensor.ragged:
        raise ValueError(f"the c/2 model needs a complete [c, a] grid: {tensor.note}")
    freqs = [int(k) for k in freqs]
    lead, order, data = _grid_last(tensor, "c", "a")
    lead_shape, p = data.shape[:-2], data.shape[-1]
    c = torch.arange(p).repeat_interleave(p)
    a = torch.arange(p).repeat(p)
    coef, fitted, r2, r2_per = _fit_c2_rows(data.reshape(-1, p * p), a, (c - a) % p, c, p, freqs)
    return _c2_result(tensor, freqs, lead, lead_shape, data.shape, order, coef, fitted, r2, r2_per)


def fit_c2_task(tensor: LabelledTensor, coords, freqs) -> C2Fit:
    """The c/2 model of a hook over [a, b] in the task's coordinates (design.md §6a).

    u = φ(a), v = ψ(b), w = χ(c) = u + v in Z_n; inputs outside the group are left out of the fit
    (their waves are NaN). For add this is :func:`fit_c2_model` on the same cells.
    """
    freqs = [int(k) for k in freqs]
    lead, order, data = _grid_last(tensor, "a", "b")
    lead_shape, p = data.shape[:-2], data.shape[-1]
    rows = torch.arange(p * p)
    u = torch.tensor(coords.phi.values)[rows // p]
    v = torch.tensor(coords.psi.values)[rows % p]
    inside = (u >= 0) & (v >= 0)
    n = coords.n
    y = data.reshape(-1, p * p)
    coef, fitted, r2, r2_per = _fit_c2_rows(y[:, inside], u[inside], v[inside], (u[inside] + v[inside]) % n, n, freqs)

    def fill(values):
        out = torch.full_like(y, float("nan"))
        out[:, inside] = values
        return out

    return _c2_result(tensor, freqs, lead, lead_shape, data.shape, order, coef, fitted, r2, r2_per, fill)


def _position_index(position) -> int:
    return ("a", "b", "=").index(position) if isinstance(position, str) else int(position)


def hook_symmetry(store, task, hooks=None, epoch=None, position=2) -> dict:
    """Hook → operand-swap symmetry at ``position`` (NaN for constant hooks, and for every hook
    when the task is not swap-symmetric: :func:`symmetry_definition` says why)."""
    from grokviz.analysis.cache import CACHE_NAMES
    from grokviz.core.coordinates import swap_symmetric

    defined, _ = swap_symmetric(task)
    scores = {}
    for hook in hooks or CACHE_NAMES:
        if not defined:
            scores[hook] = float("nan")
            continue
        labelled = store.labelled(hook, epoch)
        if position is not None and "pos" in labelled.names:
            labelled = labelled.select(pos=_position_index(position))
        scores[hook] = swap_symmetry_score(labelled)
    return scores


def hook_constant(store, hooks, epoch=None, position=2) -> dict:
    """Hook → whether it is constant over the inputs at ``position`` (up to float32 rounding)."""
    out = {}
    for hook in hooks:
        labelled = store.labelled(hook, epoch)
        if position is not None and "pos" in labelled.names:
            labelled = labelled.select(pos=_position_index(position))
        data = labelled.data.double().movedim(labelled.dim("a"), 0).movedim(labelled.dim("b"), 1).flatten(0, 1)
        spread = (data - data.mean(0)).abs().amax() if data.numel() else torch.tensor(0.0)
        scale = data.abs().amax() if data.numel() else torch.tensor(0.0)
        out[hook] = bool(spread <= 1e-6 * scale) or not bool(scale > 0)
    return out


def symmetry_definition(task) -> dict:
    """``{"defined": bool, "reason": str, "definition": str}`` for the task's symmetry score."""
    from grokviz.core.coordinates import swap_symmetric

    defined, reason = swap_symmetric(task)
    return {"defined": defined, "reason": reason, "definition": "corr over inputs of x(a, b) and x(b, a)"}


def hook_c2_r2(store, task, freqs, hooks=None, epoch=None, position=2) -> dict:
    """Hook → fraction of variance the c/2 model explains at ``position`` (task coordinates)."""
    from grokviz.analysis.cache import CACHE_NAMES

    coords = task.coordinates()
    out = {}
    for hook in hooks or CACHE_NAMES:
        labelled = store.labelled(hook, epoch)
        if position is not None and "pos" in labelled.names:
            labelled = labelled.select(pos=_position_index(position))
        out[hook] = fit_c2_task(labelled, coords, freqs).r2
    return out
