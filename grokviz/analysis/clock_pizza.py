"""Clock vs pizza (Zhong et al. 2023, arXiv 2306.17844; design.md §6b).

* Gradient symmetricity s_g (Def 4.1): the mean over random triples (a, b, c) of
  cos(∂Q_abc/∂E_a, ∂Q_abc/∂E_b), with Q_abc the logit of class c at input (a, b) and E_a, E_b
  the input embedding vectors at positions a and b. All triples go through one batched forward
  and one backward: each triple's logit depends only on its own embeddings, so the gradient of
  the sum is every triple's own gradient.
* Distance irrelevance q (Def 4.2): L[a, b] = the correct-class logit; q = mean over d of
  std_a L[a, a + d] ÷ std(L) (population standard deviations). In task coordinates
  (design.md §6a) a, a + d become u = φ(a), v = ψ(b) with d = v − u mod n; each d groups every
  input whose coordinates differ by d, so many-to-one maps need no special case. For mul and div
  the inputs with a = 0 or b = 0 (outside the group, c = 0) are left out. This is the paper's
  definition transported to the group where the task is addition (design.md §6a): a pizza's logit
  depends on ψ(b) − φ(a), not on b − a, so it is defined for every task that has coordinates.
* s_g needs no coordinates: it compares gradients at the two input positions, whatever the tokens mean.
* The [u + v, u − v] heatmap is a bijection only for odd n: for n = p − 1 (mul, div) the inputs
  (u, v) and (u + n/2, v + n/2) share a cell (averaged) and half the cells hold none; its note says so.

A clock's correct logit hardly depends on a − b (q ≈ 1) and its gradients at a and b differ
(s_g ≈ 1/3); a pizza's correct logit is |cos(w(a − b)/2)|-shaped (q small) and, with uniform
attention, the gradients at a and b are equal (s_g ≈ 1). The paper's values: clock 0.33 / 0.85,
pizza 0.99 / 0.17. :data:`VERDICT_S_G` and :data:`VERDICT_Q` sit half-way between them; the
verdict only describes a model that computes the task (early checkpoints look "clock"-like by q).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from grokviz.analysis.coordinates import OperandMaps, operand_maps
from grokviz.analysis.labelled import Axis, LabelledTensor
from grokviz.analysis.lastpos import last_position_grid

DEFAULT_TRIPLES = 1024
DEFAULT_SEED = 0
PAPER_VALUES = {"clock": (0.3336, 0.85), "pizza": (0.9937, 0.17)}
VERDICT_S_G = (PAPER_VALUES["clock"][0] + PAPER_VALUES["pizza"][0]) / 2  # 0.66
VERDICT_Q = (PAPER_VALUES["clock"][1] + PAPER_VALUES["pizza"][1]) / 2  # 0.51


@dataclass(frozen=True)
class ClockPizza:
    gradient_symmetricity: float
    distance_irrelevance: float
    verdict: str  # "clock" | "pizza" | "mixed"
    n_triples: int
    seed: int
    correct_logit: LabelledTensor  # [a + b, a − b] (task coordinates), NaN where no input lands

    def to_json(self) -> dict:
        return {"gradient_symmetricity": self.gradient_symmetricity, "distance_irrelevance": self.distance_irrelevance,
                "verdict": self.verdict, "n_triples": self.n_triples, "seed": self.seed}


def verdict(gradient_symmetricity: float, distance_irrelevance: float) -> str:
    """pizza: s_g ≥ 0.66 and q < 0.51; clock: s_g < 0.66 and q ≥ 0.51; otherwise mixed."""
    symmetric = gradient_symmetricity >= VERDICT_S_G
    irrelevant = distance_irrelevance >= VERDICT_Q
    if symmetric and not irrelevant:
        return "pizza"
    if irrelevant and not symmetric:
        return "clock"
    return "mixed"


def random_triples(p: int, n_triples: int = DEFAULT_TRIPLES, seed: int = DEFAULT_SEED) -> torch.Tensor:
    """[n, 3] int64 (a, b, c), uniform over Z_p³ from a fixed seed."""
    generator = torch.Generator().manual_seed(int(seed))
    return torch.randint(p, (int(n_triples), 3), generator=generator)


def _logits_from_embeddings(model, embed: torch.Tensor) -> torch.Tensor:
    """The model's last-position logits with ``embed`` [n, 3, d_model] in place of W_E[tokens]."""
    block = model.blocks[0]  # a 1-layer model: the MLP needs to run at the last position only
    resid = embed + model.pos_embed.W_pos[: embed.shape[1]]
    last = (resid + block.attn(resid))[:, -1]
    return model.unembed(last + block.mlp(last))


def gradient_cosines(model, triples: torch.Tensor) -> torch.Tensor:
    """[n] cos(∂Q_abc/∂E_a, ∂Q_abc/∂E_b) per triple, in one batched backward pass."""
    p = model.cfg.p
    a, b, c = triples.unbind(1)
    tokens = torch.stack([a, b, torch.full_like(a, p)], 1)
    with torch.enable_grad():
        embed = model.embed.W_E.detach()[tokens].requires_grad_(True)
        logits = _logits_from_embeddings(model, embed)
        (grad,) = torch.autograd.grad(logits.gather(1, c[:, None]).sum(), embed)
    return F.cosine_similarity(grad[:, 0].double(), grad[:, 1].double(), dim=-1, eps=1e-300)


def gradient_symmetricity(model, n_triples: int = DEFAULT_TRIPLES, seed: int = DEFAULT_SEED) -> float:
    return float(gradient_cosines(model, random_triples(model.cfg.p, n_triples, seed)).mean())


def correct_logits(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """L[a, b] = logits[a, b, c(a, b)] from [p, p, p] logits and [p²] labels (NaN where undefined)."""
    p = logits.shape[0]
    flat = logits.reshape(p * p, -1)
    out = flat.gather(1, labels.clamp_min(0)[:, None]).squeeze(1).double()
    return torch.where(labels >= 0, out, torch.full_like(out, float("nan"))).view(p, p)


def _group_coordinates(maps: OperandMaps, p: int):
    """(u, v, inside) per input row a·p + b."""
    u = maps.phi.repeat_interleave(p)
    v = maps.psi.repeat(p)
    return u, v, (u >= 0) & (v >= 0)


def distance_irrelevance(correct: torch.Tensor, maps: OperandMaps) -> float:
    """q = mean over d of std(L over inputs with v − u = d) ÷ std(L) (Def 4.2, design.md §6b)."""
    p = correct.shape[0]
    u, v, inside = _group_coordinates(maps, p)
    values = correct.reshape(-1)
    keep = inside & torch.isfinite(values)
    values, d = values[keep], ((v - u) % maps.n)[keep]
    total = values.std(unbiased=False)
    if not total > 0:
        return float("nan")
    count = torch.bincount(d, minlength=maps.n).double()
    mean = torch.bincount(d, values, minlength=maps.n) / count.clamp_min(1)
    std = (torch.bincount(d, (values - mean[d]).square(), minlength=maps.n) / count.clamp_min(1)).sqrt()
    return float(std[count > 0].mean() / total)


def sum_difference_grid(correct: torch.Tensor, maps: OperandMaps) -> LabelledTensor:
    """L re-indexed as [u + v, u − v] (mod n), averaged where several inputs land on a cell."""
    p, n = correct.shape[0], maps.n
    u, v, inside = _group_coordinates(maps, p)
    values = correct.reshape(-1)
    keep = inside & torch.isfinite(values)
    cell = (((u + v) % n) * n + (u - v) % n)[keep]
    count = torch.bincount(cell, minlength=n * n).double()
    total = torch.bincount(cell, values[keep], minlength=n * n)
    grid = torch.where(count > 0, total / count.clamp_min(1), torch.full_like(total, float("nan"))).view(n, n)
    first, second = maps.symbols
    axes = (Axis(f"{first}+{second}", n, "token"), Axis(f"{first}−{second}", n, "token"))
    notes = []
    if not bool((count > 0).all()):
        notes.append(f"{int((count == 0).sum())} of {n * n} cells have no input (blank)")
    if bool((count > 1).any()):  # e.g. n even: (u, v) and (u + n/2, v + n/2) share their sum and difference
        most = int(count.max())
        notes.append(f"{int((count > 1).sum())} cells average {most if bool((count[count > 1] == most).all()) else 'several'}"
                     " inputs")
    note = "; ".join(notes)
    return LabelledTensor(grid.float(), axes, title="correct-class logit", note=note)


def clock_pizza(model, task, n_triples: int = DEFAULT_TRIPLES, seed: int = DEFAULT_SEED) -> ClockPizza:
    """Both discriminators and the [a + b, a − b] correct-logit grid of one model."""
    maps = operand_maps(task)
    logits = last_position_grid(model, ("logits",))["logits"]
    correct = correct_logits(logits, task.labels())
    s_g = gradient_symmetricity(model, n_triples, seed)
    q = distance_irrelevance(correct, maps)
    return ClockPizza(s_g, q, verdict(s_g, q), int(n_triples), int(seed), sum_difference_grid(correct, maps))
