"""Progress measures over checkpoints (design.md §6, Nanda et al.), fast and incremental.

Per checkpoint, straight from its state dict (no module, no TransformerLens), from the
final-position activations over all p² inputs (``resid_mid`` from one ``embedding_bag`` over
the attention tables, then ``pre`` and the logits in blocks of :data:`ROW_CHUNK` inputs):

* ``train_loss`` / ``test_loss``: cross-entropy of the full model (log1p form, exact near 1e-7).
All in the task's coordinates (design.md §6a): χ(c) = φ(a) + ψ(b) in Z_n, w_k = 2πk/n; for add
χ(c) = a + b and n = p (design.md §6). Inputs outside the group (mul/div with a zero operand) are
left out of the fits and of the restricted/excluded losses.

* ``restricted_loss``: neuron activations ``post`` projected onto the key frequencies'
  cos(w_k·χ(c)) and sin(w_k·χ(c)) directions over the inputs, through W_out·W_U, plus the
  full logits' mean (bias correction); cross-entropy on the test set.
* ``excluded_loss`` (and ``excluded_loss_per_freq``): the full logits minus those
  components' contribution; cross-entropy on the train set.
* ``cos_coeffs[k]``: coefficient of the logits on the unit-norm cube cos(w_k(χ(c) − χ(c'))) —
  for add cos(w_k(a+b−c')) — from an FFT of the logits summed along (χ(c) − χ(c')) mod n, no
  [n/2, p, p, p] tensor; ``cos_sim``: cosine similarity of the logits (centred over c') with
  their key-frequency cube part; ``residual`` = 1 − cos_sim² (share of the centred logits'
  squared norm outside the key cubes).
* ``weight_norm`` (Σθ² over all parameters) and ``weight_norms`` per parameter.
* ``gini_W_E`` / ``gini_W_L``: Gini coefficients of the Fourier-component norms of W_E's
  number rows (in φ) and of W_L = (W_out·W_U)ᵀ over the output axis (in χ).

Measured (``grokviz bench analysis``: p = 113, default model, 250 float32 checkpoints read
from a run file, this 2-core machine): 7.3–9.7 s with two single-threaded workers (~30 ms CPU
per checkpoint per worker, ~60 % of it the two p²-row matmuls), 8.4–10.8 s sequentially on two
torch threads; peak RSS ~590 MB of which ~480 MB is Python + torch + the loaded run. The
notebook method costs ~0.7 s per checkpoint (~180 s for 250).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterator

import torch

from grokviz.analysis.progress_table import SCALAR_MEASURES, ProgressTable, make_record, matching_records, table_from_records
from grokviz.core.lastpos.grid import GridReadout
from grokviz.core.perf import torch_threads, tune_allocator
from grokviz.core.weights import Weights

__all__ = ["SCALAR_MEASURES", "ProgressSetup", "ProgressTable", "gini", "iter_progress", "measure_model",
           "progress_measures", "stored_measures"]


def gini(values: torch.Tensor) -> float:
    """Gini coefficient of non-negative values (0 = all equal, → 1 = one value holds everything)."""
    x = torch.sort(values.detach().double().flatten().abs()).values
    n = len(x)
    total = float(x.sum())
    if n == 0 or total <= 0:
        return 0.0
    index = torch.arange(1, n + 1, dtype=torch.float64)
    return float(((2 * index - n - 1) * x).sum() / (n * total))


def _orthonormal(columns: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Orthonormalise columns over the valid rows after removing the constant; invalid rows 0."""
    x = columns[valid]
    x = x - x.mean(0, keepdim=True)
    q, _ = torch.linalg.qr(x)
    out = torch.zeros(len(columns), q.shape[1], dtype=q.dtype)
    out[valid] = q
    return out


ROW_CHUNK = 2048  # inputs per block of neuron activations (bounds working memory, stays in cache)


@dataclass
class ProgressSetup:
    """What every checkpoint shares: rows, labels, key frequencies and their directions."""

    p: int
    key_freqs: list
    labels: torch.Tensor  # [p²], −1 where the task has no answer
    valid: torch.Tensor  # inputs with an answer inside the task's group (the rows every fit uses)
    train_rows: torch.Tensor
    test_rows: torch.Tensor
    directions: torch.Tensor  # [p², 2K] float32, orthonormal over valid rows (joint)
    per_freq: torch.Tensor  # [p², 2K]: columns 2i, 2i+1 orthonormal for frequency i alone
    basis: torch.Tensor  # [n, p] float32: the Fourier basis of Z_n over a's tokens (φ)
    all_valid: bool = True
    direction_mean: torch.Tensor | None = None  # [2K]: mean of the joint directions over valid rows
    excluded_directions: torch.Tensor | None = None  # [1 + K, n_train, 2K]: joint, then one frequency each
    excluded_source: torch.Tensor | None = None  # [1 + K]: 0 = project with the joint, 1 = per frequency
    difference: torch.Tensor | None = None  # flat (c − c') mod p
    cube_norms: torch.Tensor | None = None  # norm of each cos cube, k = 0..p//2
    safe_labels: torch.Tensor | None = None  # labels with −1 → 0 (those rows are never averaged)
    stacked_directions: torch.Tensor | None = None  # [p², S]: joint (+ per-frequency when not orthogonal)
    directions_test: torch.Tensor | None = None  # joint directions of the restricted-loss rows
    n: int = 0  # order of the task's group Z_n (design.md §6a)
    excluded_rows: torch.Tensor | None = None  # training rows inside the group
    restricted_rows: torch.Tensor | None = None  # test rows inside the group
    classes: torch.Tensor | None = None  # answers c inside the group
    all_classes: bool = True
    basis_out: torch.Tensor | None = None  # [n, p] Fourier basis over the answers (χ)

    @classmethod
    def build(cls, task, train_rows, test_rows, key_freqs) -> "ProgressSetup":
        """Directions cos/sin(w_k·χ(c)) = cos/sin(w_k(φ(a) + ψ(b))), w_k = 2πk/n (design.md §6a).

        Inputs outside the task's group (mul/div with a zero operand) are left out of the fits and
        of the restricted and excluded losses; with add's identity maps this is design.md §6 exactly.
        """
        from grokviz.analysis.fourier import token_basis

        coords = task.coordinates()
        p, n = task.p, coords.n
        bad = [k for k in key_freqs if not 1 <= int(k) <= n // 2]
        if bad:
            raise ValueError(f"key frequencies must lie in 1 … {n // 2} for p = {p} (n = {n}); got {bad}")
        labels = task.labels()
        valid = labels >= 0
        phi, psi, chi = (torch.tensor(m.values) for m in (coords.phi, coords.psi, coords.chi))
        rows = torch.arange(p * p)
        w = chi[labels.clamp_min(0)]
        group = valid & (phi[rows // p] >= 0) & (psi[rows % p] >= 0) & (w >= 0)
        angle_index = w.clamp_min(0).double()
        columns = []
        for k in key_freqs:
            angle = 2 * math.pi * k * angle_index / n
            columns += [torch.cos(angle), torch.sin(angle)]
        n_keys = len(key_freqs)
        if columns:
            directions = _orthonormal(torch.stack(columns, 1), group).float()
            per_freq = torch.cat([_orthonormal(torch.stack(columns[2 * i:2 * i + 2], 1), group).float()
                                  for i in range(n_keys)], dim=1)
        else:
            directions = per_freq = torch.zeros(p * p, 0)
        train_rows, test_rows = train_rows.long(), test_rows.long()
        excluded_rows, restricted_rows = train_rows[group[train_rows]], test_rows[group[test_rows]]
        n_group = int(group.sum())
        norms = torch.full((n // 2 + 1,), math.sqrt(n_group * n / 2.0), dtype=torch.float64)
        norms[0] = math.sqrt(n_group * n)
        if n % 2 == 0:
            norms[-1] = math.sqrt(n_group * n)
        # (χ(c) − χ(c')) mod n per class pair; pairs with a class outside the group go to bin n (dropped)
        inside = chi >= 0
        difference = (chi[:, None] - chi[None, :]) % n
        difference[~(inside[:, None] & inside[None, :])] = n
        # excluded-loss variants: all key frequencies together, then each one alone (columns of the
        # joint projection when the per-frequency directions are orthogonal to each other, as for add)
        orthogonal = bool(n_keys) and torch.allclose(per_freq.abs(), directions.abs(), atol=1e-5)
        joint_train, single_train = directions[excluded_rows], per_freq[excluded_rows]
        variants = [joint_train]
        for i in range(n_keys):
            masked = torch.zeros_like(joint_train)
            masked[:, 2 * i:2 * i + 2] = (joint_train if orthogonal else single_train)[:, 2 * i:2 * i + 2]
            variants.append(masked)
        source = torch.tensor([0] + [0 if orthogonal else 1] * n_keys)
        stacked = directions if orthogonal or not n_keys else torch.cat([directions, per_freq], dim=1)
        setup = cls(p, [int(k) for k in key_freqs], labels, group, train_rows, test_rows, directions, per_freq,
                    token_basis(coords.phi, torch.float32), bool(group.all()), directions[group].mean(0),
                    torch.stack(variants), source, difference.flatten(), norms, labels.clamp_min(0), stacked,
                    directions[restricted_rows])
        setup.n = n
        setup.excluded_rows, setup.restricted_rows = excluded_rows, restricted_rows
        setup.classes = torch.nonzero(inside).flatten()
        setup.all_classes = bool(inside.all())
        setup.basis_out = token_basis(coords.chi, torch.float32)
        return setup


def relative_logits(logits: torch.Tensor, labels: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """x_c − x_true per row, with −inf at the true class (``logits`` [..., N, C], ``labels`` [N])."""
    index = labels.view(*([1] * (logits.dim() - 2)), -1, 1).expand(*logits.shape[:-1], 1)
    true = logits.gather(-1, index)
    return (logits.sub_(true) if inplace else logits - true).scatter_(-1, index, -math.inf)


def loss_from_relative(z: torch.Tensor, log_scale: torch.Tensor | None = None) -> torch.Tensor:
    """Per-row cross-entropy log1p(e^(log_scale)·Σ_c e^(z_c)) from :func:`relative_logits` (consumes ``z``).

    Keeps full relative precision for losses near 1e-7 (a float32 log-softmax would not).
    Rows whose sum overflows (some z_c > 88) come back as inf; :func:`row_cross_entropy` redoes them.
    """
    others = z.exp_().sum(-1)
    if log_scale is not None:
        others.mul_(torch.exp(log_scale))
    return others.log1p_()


def row_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, consume: bool = False) -> torch.Tensor:
    """Per-row cross-entropy (float32) of ``logits`` [..., N, C] at ``labels`` [N].

    loss = log Σ_c exp(x_c − x_true) = log1p(Σ_(c≠true) exp(x_c − x_true)); rows that overflow
    are redone in the max-shifted form m + log(e^(−m) + Σ_(c≠true) e^(x_c − x_true − m)).
    ``consume=True`` works in the caller's tensor (saves a copy; its values are lost unless
    some row overflows, in which case it is not touched).
    """
    if consume and not _may_overflow(logits):
        return loss_from_relative(relative_logits(logits, labels, inplace=True))
    loss = loss_from_relative(relative_logits(logits, labels))
    return _redo_overflow(loss, logits, labels)


def _may_overflow(logits: torch.Tensor) -> bool:
    """Whether some x_c − x_true can exceed 88 (exp overflows in float32): a cheap range bound."""
    low, high = torch.aminmax(logits)
    return bool(high - low > 80)


def _redo_overflow(loss: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    overflow = torch.isinf(loss)
    if bool(overflow.any()):
        z = relative_logits(logits, labels)[overflow]
        m = z.amax(-1, keepdim=True)
        loss[overflow] = (m + torch.log(torch.exp(-m) + z.sub_(m).exp_().sum(-1, keepdim=True))).squeeze(-1)
    return loss


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean of :func:`row_cross_entropy` (summed in float64)."""
    return _mean_of(row_cross_entropy(logits, labels))


def _mean_of(values: torch.Tensor) -> float:
    return float(values.sum(dtype=torch.float64) / max(len(values), 1))


def _logits_and_contributions(setup: ProgressSetup, w: Weights, readout: GridReadout | None = None,
                              post: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits [p², p], contributions [S, p]) with contributions[j] = Σ_rows d_j[row]·(post[row]·W_logit).

    From the table read-outs (:class:`~grokviz.analysis.lastpos.GridReadout`), ``pre`` in blocks
    of :data:`ROW_CHUNK` inputs (or the rows of ``post`` [p², d_mlp], when the caller has them).
    The neurons' part of the logits is logits − direct, so the contributions are Dᵀ·logits −
    Dᵀ·direct: [S, p²]·[p², p] products.
    """
    readout = GridReadout.of(w) if readout is None else readout
    directions = setup.stacked_directions
    logits = readout.direct_logits()  # neurons added block by block
    direct_part = directions.T @ logits
    w_logit = w.w_logit
    for start in range(0, setup.p ** 2, ROW_CHUNK):
        rows = slice(start, start + ROW_CHUNK)
        logits[rows].addmm_(readout.pre(rows).relu_() if post is None else post[rows], w_logit)
    return logits, directions.T @ logits - direct_part


def _excluded_losses(setup: ProgressSetup, logits: torch.Tensor, contributions: torch.Tensor) -> list:
    """Cross-entropy on the training set of the logits minus the key components (joint, then per frequency).

    With E = D·C the removed part, x' − x'_true = (x − x_true) − E + E_true: the per-row E_true
    becomes a factor e^(E_true) on the row's sum instead of another pass over the logits.
    """
    train = setup.excluded_rows
    labels = setup.safe_labels[train]
    logits_train = logits[train]
    in_place = not _may_overflow(logits_train)
    relative = relative_logits(logits_train, labels, inplace=in_place)
    n_dirs = setup.directions.shape[1]
    by_variant = torch.stack([contributions[:n_dirs], contributions[n_dirs:]]) if len(contributions) > n_dirs \
        else contributions[None]
    by_variant = by_variant[setup.excluded_source]  # [1 + K, 2K, p]
    directions = setup.excluded_directions  # [1 + K, n_train, 2K]
    removed_true = (directions * by_variant[:, :, labels].transpose(1, 2)).sum(-1)  # E_true [1 + K, n_train]
    losses = []
    for variant, removed, true in zip(directions, by_variant, removed_true):  # one [n_train, p] block at a time
        rows = loss_from_relative(torch.addmm(relative, variant, removed, alpha=-1), true)
        if bool(torch.isinf(rows).any()):
            rows = row_cross_entropy(torch.addmm(logits[train], variant, removed, alpha=-1), labels)
        losses.append(_mean_of(rows))
    return losses


def _cos_measures(setup: ProgressSetup, logits_valid: torch.Tensor, labels_valid: torch.Tensor) -> dict:
    """cos-coefficients (FFT of the logits summed along (c − c') mod p), cos_sim and residual."""
    p, n = setup.p, setup.n
    by_label = torch.zeros(p, p).index_add_(0, labels_valid, logits_valid).double()  # [c, c']
    marginal = torch.zeros(n + 1, dtype=torch.float64).index_add_(0, setup.difference, by_label.flatten())[:n]
    spectrum = torch.fft.rfft(marginal).real  # Σ_d M[d] cos(2πkd/n), k = 0..n//2
    coefficients = (spectrum / setup.cube_norms)[1:]
    in_group = logits_valid if setup.all_classes else logits_valid[:, setup.classes]
    row_sums = in_group.sum(1).double()  # float32 within a row, float64 across rows
    square_norms = torch.linalg.vector_norm(in_group, dim=1).double().square()  # one fused pass
    centred_square = float(square_norms.sum() - (row_sums.square() / n).sum())
    explained = float(sum(coefficients[k - 1] ** 2 for k in setup.key_freqs)) ** 0.5 if setup.key_freqs else 0.0
    cos_sim = explained / centred_square ** 0.5 if centred_square > 0 else float("nan")
    return {"cos_coeffs": coefficients.tolist(), "cos_sim": cos_sim, "residual": 1.0 - cos_sim ** 2}


@torch.no_grad()
def measure_model(setup: ProgressSetup, source, readout: GridReadout | None = None,
                  post: torch.Tensor | None = None) -> dict:
    """All progress measures of one checkpoint (a model, a state dict or Weights; module docstring).

    ``readout`` (the checkpoint's :class:`~grokviz.analysis.lastpos.GridReadout`) and ``post`` (its
    MLP activations at ``=`` over all inputs [p², d_mlp]), when the caller has them (the live
    measures find the key frequencies from them first); made here, ``post`` in blocks, otherwise.

    Cost: two dense matmuls over the p² inputs (``pre`` and the neurons' logits, ~3.2 GFLOP at
    p = 113) in blocks, so no [p², d_mlp] tensor exists; everything else works on the [p², p]
    logits (consumed last, in place) or on rank-2K corrections to them.
    """
    w = Weights.of(source)
    logits, contributions = _logits_and_contributions(setup, w, readout, None if post is None else post.reshape(setup.p ** 2, -1))
    labels, test = setup.safe_labels, setup.test_rows
    logits_valid = logits if setup.all_valid else logits[setup.valid]
    out = _cos_measures(setup, logits_valid, labels if setup.all_valid else labels[setup.valid])
    excluded = _excluded_losses(setup, logits, contributions)
    out["excluded_loss"] = excluded[0]
    out["excluded_loss_per_freq"] = dict(zip(setup.key_freqs, excluded[1:]))
    # restricted: the key-frequency components of the neurons through W_logit, plus the logits' mean
    joint = contributions[:setup.directions.shape[1]]
    offset = logits_valid.mean(0) - setup.direction_mean @ joint
    out["restricted_loss"] = sum(
        float(row_cross_entropy(torch.addmm(offset, block, joint), block_labels, consume=True).sum(dtype=torch.float64))
        for block, block_labels in zip(setup.directions_test.split(ROW_CHUNK),
                                       labels[setup.restricted_rows].split(ROW_CHUNK))
    ) / max(len(setup.restricted_rows), 1)
    row_loss = row_cross_entropy(logits, labels, consume=True)  # the logits' last use
    out["train_loss"] = _mean_of(row_loss[setup.train_rows])
    out["test_loss"] = _mean_of(row_loss[test])

    norms_per_parameter = {}
    for name, parameter in w.named_parameters():
        flat = parameter.reshape(-1).float()
        norms_per_parameter[name] = float(flat @ flat)
    out["weight_norms"] = norms_per_parameter
    out["weight_norm"] = float(sum(norms_per_parameter.values()))
    out["gini_W_E"] = gini((setup.basis @ w.W_E[:setup.p]).norm(dim=-1))
    out["gini_W_L"] = gini((setup.basis_out @ w.w_logit.T).norm(dim=-1))
    return out


def key_frequencies_of(state, task=None) -> list:
    """Key frequencies of one state dict in ``task``'s coordinates (design.md §6a; None: add's maps):
    those W_E and the neuron clusters both confirm (:func:`grokviz.analysis.spectrum.key_frequency_report`,
    computed by its cheaper twin :func:`~grokviz.analysis.spectrum.key_frequencies_only`)."""
    from grokviz.analysis.spectrum import key_frequencies_only

    return key_frequencies_only(state, None if task is None else task.coordinates())


def default_key_frequencies(run) -> list:
    """The final checkpoint's key frequencies in the task's coordinates (design.md §6a)."""
    return key_frequencies_of(run.state_dict(), run.task)


def iter_progress(run, epochs=None, key_freqs=None, on_progress: Callable | None = None,
                  cancel: Callable[[], bool] | None = None, workers: int | None = None) -> Iterator[tuple[int, dict]]:
    """Yield ``(epoch, measures)`` per checkpoint, in order (all of ``run.epochs`` by default).

    ``key_freqs`` default to the final model's (:func:`default_key_frequencies`). ``on_progress(done, total, epoch)`` is
    called after each checkpoint; ``cancel()`` returning True stops before the next one.
    Works on the run's state dicts directly (no module is built). ``workers`` > 1 measure
    checkpoints in parallel threads with one torch thread each, which overlaps the many small
    ops better than torch's own threading (measured ~10 %). torch's thread count is process-wide
    and must not change under another thread's torch work, so the default (torch's thread count,
    at most 2) applies only on the main thread (CLI, scripts); elsewhere (the app's worker
    jobs) it is 1.
    """
    tune_allocator()  # MB-sized blocks per checkpoint: keep them in the heap (1.5× faster, measured)
    epochs = list(run.epochs if epochs is None else epochs)
    if key_freqs is None:
        key_freqs = default_key_frequencies(run)
    stored = stored_measures(run, key_freqs)
    if all(int(epoch) in stored for epoch in epochs):  # measured while training: nothing to compute
        for done, epoch in enumerate(epochs, 1):
            if cancel is not None and cancel():
                return
            yield int(epoch), stored[int(epoch)]
            if on_progress is not None:
                on_progress(done, len(epochs), int(epoch))
        return
    train_rows, test_rows = run.indices()
    setup = ProgressSetup.build(run.task, train_rows, test_rows, key_freqs)
    if workers is None:
        workers = min(2, torch.get_num_threads()) if threading.current_thread() is threading.main_thread() else 1
    workers = max(1, int(workers))

    def measure(epoch):
        return stored.get(int(epoch)) or measure_model(setup, run.state_dict(epoch))

    if workers == 1 or len(epochs) < 2:
        results = ((epoch, measure(epoch)) for epoch in epochs)
    else:
        results = _in_parallel(measure, epochs, workers)
    try:
        for done, epoch in enumerate(epochs, 1):
            if cancel is not None and cancel():
                return
            _, measures = next(results)
            yield int(epoch), measures
            if on_progress is not None:
                on_progress(done, len(epochs), int(epoch))
    finally:
        results.close()  # a consumer that stops early gets the thread count back at once


def _in_parallel(function, items, workers: int) -> Iterator[tuple]:
    """(item, function(item)) in order, ``workers`` at a time on single-threaded torch."""
    with torch_threads(1), ThreadPoolExecutor(workers, thread_name_prefix="grokviz-progress") as pool:
        pending = deque()
        for item in items:
            pending.append((item, pool.submit(function, item)))
            if len(pending) > workers:
                first, future = pending.popleft()
                yield first, future.result()
        while pending:
            first, future = pending.popleft()
            yield first, future.result()


def stored_measures(run, key_freqs) -> dict:
    """{epoch: measures} of the run's stored records (``run.progress``, measured while training
    or by an earlier pass) taken at exactly ``key_freqs``."""
    return matching_records(getattr(run, "progress", None), key_freqs)


def remember_measures(run, key_freqs, epochs, rows) -> None:
    """Keep computed measures on ``run.progress`` (so saving the run, e.g. ``grokviz convert``,
    stores them and they are not computed again); records at other key frequencies are replaced."""
    merged = {int(r["epoch"]): r for r in (getattr(run, "progress", None) or [])}
    for epoch, measures in zip(epochs, rows):
        merged[int(epoch)] = make_record(epoch, key_freqs, measures)
    run.progress = [merged[e] for e in sorted(merged)]


def progress_measures(run, epochs=None, key_freqs=None, on_progress=None, cancel=None) -> ProgressTable:
    """All checkpoints' measures as a :class:`ProgressTable` (``complete`` False if cancelled).

    Measures stored with the run at the same key frequencies (:mod:`grokviz.analysis.live`) are
    read, not recomputed; newly computed ones are kept on ``run.progress``.
    """
    epochs = list(run.epochs if epochs is None else epochs)
    if key_freqs is None:
        key_freqs = default_key_frequencies(run)
    got_epochs, rows = [], []
    for epoch, measures in iter_progress(run, epochs, key_freqs, on_progress, cancel):
        got_epochs.append(epoch)
        rows.append(measures)
    if rows:
        remember_measures(run, key_freqs, got_epochs, rows)
    return table_from_records(key_freqs, got_epochs, rows, run.task.coordinates().n // 2,
                              complete=len(rows) == len(epochs))
