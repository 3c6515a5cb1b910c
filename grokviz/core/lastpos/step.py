"""The CPU trainer's step: the fast path's forward and a hand-written backward, in reused buffers.

Autograd through :func:`grokviz.core.lastpos.forward.last_position_logits` spends about as long on
bookkeeping, fresh allocations and its small-tensor ops as on the MLP's matmuls. Here one step is

    tables → resid_mid = M·table (sparse mix) → pre = resid_mid·W_in (+b_in) → post = relu(pre)
    → resid_post = resid_mid + post·W_out → logits = resid_post·W_U + b_U + b_out·W_U
    → float64 cross-entropy (design.md §4) or StableMax (§6b) → the same chain backwards.

M has 3·heads entries per input (:mod:`grokviz.core.lastpos.handwritten`), so the two products with W_in's
d_model side go through the small table instead of the N inputs: pre = M·(table·W_in) and
grad W_in = tableᵀ·(Mᵀ·grad pre), each a gather of 3·heads rows per input instead of a
d_model-deep product. The [N, ·] gradients sit in buffers reused from step to step, the ReLU and
its backward run in place, and the unembedding is padded to a multiple of 16 classes (zero
columns, which BLAS handles faster than 113). Gradients land in the parameters' ``.grad`` as
autograd's would (tested to float32 round-off against autograd through the hooked model).
"""

from __future__ import annotations

import torch

from grokviz.core.lastpos.handwritten import AttentionTables, SparseMix
from grokviz.core.lastpos.layout import InputLayout
from grokviz.core.losses import check_loss, stablemax_rows
from grokviz.core.weights import Weights

_PAD = 16


class _Buffers:
    """Named scratch tensors that grow to the largest row count asked for, then get reused."""

    def __init__(self, device, dtype=torch.float32):
        self._store: dict[str, torch.Tensor] = {}
        self.device, self.dtype = device, dtype

    def get(self, name: str, rows: int, cols: int) -> torch.Tensor:
        tensor = self._store.get(name)
        if tensor is None or tensor.shape[0] < rows or tensor.shape[1] != cols:
            tensor = torch.zeros(rows, cols, device=self.device, dtype=self.dtype)
            self._store[name] = tensor
        return tensor[:rows]


class _Batch:
    """A fixed set of inputs with their labels and sparse-mix pattern."""

    def __init__(self, layout: InputLayout, labels: torch.Tensor, p: int, heads: int):
        self.layout, self.labels, self.n = layout, labels, len(layout)
        self.mix = SparseMix(layout, p, heads)
        self.label_column = labels[:, None]


def _float64_loss(logits: torch.Tensor, labels_column: torch.Tensor, count_correct: bool = False):
    """(exp(z) [n, p] float64, Σ exp z [n, 1], per-row loss [n, 1], #rows predicted right or None).

    z = logits − row max; the loss is the notebooks' −log softmax at the label, computed in
    float64 (design.md §4). The row max comes from the float32 logits (widening to float64 is
    exact). (Separate elementwise ops: torch's fused float64 softmax and logsumexp kernels are
    2–4× slower here, measured.)
    """
    shifted = logits.to(torch.float64)
    shifted.sub_(logits.amax(1, keepdim=True).to(torch.float64))
    picked = shifted.gather(1, labels_column)
    exps = shifted.exp_()
    total = exps.sum(1, keepdim=True)
    correct = _count_argmax_hits(logits, labels_column, picked, total) if count_correct else None
    return exps, total, total.log().sub_(picked), correct


def _count_argmax_hits(logits, labels_column, picked, total) -> torch.Tensor:
    """Rows whose first maximal logit (``argmax``) is the label's, from the loss's pieces.

    picked = z_label − max is exactly 0 iff the label's logit is maximal, and every maximal logit
    adds exactly 1 to total = Σ exp(z − max): total < 2 means the maximum is unique. Only rows
    that could hold a tie need an ``argmax`` (index-returning reductions run ~4× slower than max).
    """
    at_max = picked == 0
    maybe_tied = at_max & (total >= 2)
    correct = (at_max & ~maybe_tied).sum()
    rows = maybe_tied.view(-1).nonzero().view(-1)
    if len(rows):
        correct += (logits.index_select(0, rows).argmax(1) == labels_column.view(-1)[rows]).sum()
    return correct


class TrainStep:
    """Full-batch forward + backward of the fast path for one model's parameters.

    ``weights``: :class:`Weights` holding the model's parameters themselves (not copies); their
    ``.grad`` is set by :meth:`step`. Biases are frozen (design.md §4): they enter the forward
    but get no gradient. ``loss``: ``cross_entropy`` or ``stablemax`` (:mod:`grokviz.core.losses`).
    """

    def __init__(self, weights: Weights, layout: InputLayout, labels: torch.Tensor, loss: str = "cross_entropy"):
        self.w = weights
        self.loss = check_loss(loss)
        self.p = weights.p
        self.heads = weights.W_Q.shape[0]
        self.d_model, self.d_mlp = weights.W_in.shape
        self.width = -(-self.p // _PAD) * _PAD  # padded number of classes
        device = weights.W_U.device
        self.buffers = _Buffers(device)
        self.train = _Batch(layout, labels, self.p, self.heads)
        self._batches: dict[int, _Batch] = {}
        self._weights = Weights(**{k: v.detach() for k, v in vars(weights).items()})  # views: see every update
        self._has_b_in = bool(self._weights.b_in.any())
        self._has_b_out = bool(self._weights.b_out.any())
        self._has_direct_bias = self._has_b_out or bool(self._weights.b_U.any())
        self._unembed = torch.zeros(self.d_model, self.width, device=device)
        self._unembed_bias = torch.zeros(self.width, device=device)
        self._minus_one_over_n = torch.full((self.train.n, 1), -1.0 / max(self.train.n, 1), dtype=torch.float64,
                                            device=labels.device)

    # -- forward -------------------------------------------------------------------
    @torch.no_grad()
    def tables(self) -> AttentionTables:
        """The attention tables of the parameters as they are now (shared by eval and step)."""
        w = self._weights
        self._unembed[:, : self.p] = w.W_U
        if self._has_direct_bias:  # biases are frozen, but their product with W_U is not
            self._unembed_bias[: self.p] = w.direct_bias
        return AttentionTables.of(self._weights)

    def forward(self, tables: AttentionTables, batch: _Batch):
        """(mix weights, post [N, d_mlp], resid_post [N, d_model], padded logits [N, width]) of ``batch``
        (``self.train`` or an evaluation chunk), in the reused buffers."""
        n, w, get = batch.n, self._weights, self.buffers.get
        resid_mid, weights = batch.mix.forward(tables)
        post = batch.mix.mix(tables.mlp_in, weights)  # = resid_mid·W_in
        if self._has_b_in:
            post.add_(w.b_in)
        post.clamp_min_(0.0)
        resid_post = resid_mid.addmm_(post, w.W_out)  # a fresh tensor, and the backward needs no resid_mid
        logits = get("logits", n, self.width)
        if self._has_direct_bias:
            torch.addmm(self._unembed_bias, resid_post, self._unembed, out=logits)
        else:
            torch.mm(resid_post, self._unembed, out=logits)
        return weights, post, resid_post, logits

    @torch.no_grad()
    def evaluate(self, tables: AttentionTables, layouts: list[InputLayout], labels: torch.Tensor) -> tuple[float, float]:
        """(mean loss, accuracy) over inputs given as layout chunks; ``labels`` concatenated in order."""
        loss_sum = torch.zeros((), dtype=torch.float64, device=labels.device)
        correct = torch.zeros((), dtype=torch.long, device=labels.device)
        start = 0
        for layout in layouts:
            batch = self._batch(layout, labels[start : start + len(layout)])
            start += len(layout)
            logits = self.forward(tables, batch)[-1][:, : self.p]
            if self.loss == "stablemax":
                row_loss = stablemax_rows(logits, batch.label_column, with_grad=False)[0]
                right = (logits.argmax(1) == batch.labels).sum()
            else:
                _, _, row_loss, right = _float64_loss(logits, batch.label_column, count_correct=True)
            loss_sum += row_loss.sum()
            correct += right
        count = max(start, 1)
        return float(loss_sum) / count, int(correct) / count

    def _batch(self, layout: InputLayout, labels: torch.Tensor) -> _Batch:
        batch = self._batches.get(id(layout))
        if batch is None or batch.layout is not layout:
            batch = self._batches[id(layout)] = _Batch(layout, labels, self.p, self.heads)
        return batch

    # -- forward + backward ------------------------------------------------------------
    @torch.no_grad()
    def step(self, tables: AttentionTables, accuracy: bool = False) -> tuple[torch.Tensor, float | None]:
        """One forward + backward on the training inputs: (loss [float64 scalar], accuracy or None).

        Sets ``.grad`` of every trainable weight (replacing what was there). The accuracy (of
        the weights before this step) is computed only when asked for.
        """
        batch, w, get = self.train, self._weights, self.buffers.get
        n, p = batch.n, self.p
        weights, post, resid_post, logits = self.forward(tables, batch)
        if self.loss == "stablemax":
            row_loss, exps = stablemax_rows(logits[:, :p], batch.label_column)  # exps: d row loss / d logits
            correct = (logits[:, :p].argmax(1) == batch.labels).sum() if accuracy else None
            exps.mul_(1.0 / n)
        else:
            exps, total, row_loss, correct = _float64_loss(logits[:, :p], batch.label_column, accuracy)
            # d loss / d logits = (softmax − onehot) / n, in float64 then stored as float32
            exps.mul_(total.reciprocal_().mul_(1.0 / n))
            exps.scatter_add_(1, batch.label_column, self._minus_one_over_n)
        loss = row_loss.mean()
        grad_logits = get("grad_logits", n, self.width)
        grad_logits[:, :p].copy_(exps)
        grad_unembed = torch.mm(resid_post.T, grad_logits)
        grad_mid = torch.mm(grad_logits, self._unembed.T, out=get("grad_mid", n, self.d_model))  # = grad resid_post
        grad_W_out = torch.mm(grad_mid.T, post).T  # this orientation runs ~14 % faster than post.T @ grad_mid
        grad_post = torch.mm(grad_mid, w.W_out.T, out=get("grad_post", n, self.d_mlp))
        torch.ops.aten.threshold_backward.grad_input(grad_post, post, 0.0, grad_input=grad_post)
        # resid_midᵀ·grad_post = tableᵀ·(Mᵀ·grad_post): M has 3·heads entries per row, so this
        # gathers 3·heads rows per input where the dense product reads d_model (measured 1.9 → 1.55 ms)
        grad_W_in = tables.transposed_times(batch.mix.transposed(weights, grad_post))
        grad_mid.addmm_(grad_post, w.W_in.T)  # resid_mid feeds both the MLP and the residual
        grads = tables.backward(*batch.mix.backward(tables, weights, grad_mid))
        grad_W_U = grad_unembed[:, :p].contiguous()
        if self._has_b_out:  # logits' bias b_out·W_U
            grad_W_U.addr_(w.b_out, grad_logits[:, :p].sum(0))
        grads.update(W_in=grad_W_in, W_out=grad_W_out, W_U=grad_W_U)
        for name, grad in grads.items():
            getattr(self.w, name).grad = grad.contiguous()
        return loss, (int(correct) / n if accuracy else None)
