"""All-input activation caches (design.md §2 hooks + ``logits``) at any checkpoint, with a small LRU.

``ActivationStore(run)`` runs the hooked model on all p² inputs ``[a, b, =]`` (row ``a·p + b``)
in chunks bounded by ``chunk_bytes`` and keeps the caches of the most recently used checkpoints
while their total stays under ``max_bytes``. ``labelled(hook)`` returns the hook as a
:class:`LabelledTensor` with the batch split into ``a, b`` (e.g. ``a, b, pos, head, d_head``),
ready for :mod:`grokviz.analysis.reorder`. ``lazy=True`` computes only the requested hook.
"""

from __future__ import annotations

from collections import OrderedDict

import torch

from grokviz.analysis.labelled import Axis, LabelledTensor, token_axis
from grokviz.core.data import all_tokens
from grokviz.core.model import HOOK_NAMES

CACHE_NAMES = HOOK_NAMES + ("logits",)
POSITION_TICKS = ("a", "b", "=")


def _normalise_hook(name: str) -> str:
    if name in CACHE_NAMES:
        return name
    short = name.split(".")[-1]
    short = short if short.startswith("hook_") or short == "logits" else "hook_" + short
    matches = [h for h in CACHE_NAMES if h.split(".")[-1] == short]  # e.g. "pattern", "resid_mid"
    if len(matches) == 1:
        return matches[0]
    raise KeyError(f"unknown hook {name!r}; choose from {', '.join(CACHE_NAMES)}")


def hook_axes(hook: str, cfg) -> tuple:
    """Axes after the batch axis for ``hook`` (queries of attention hooks are called ``pos``)."""
    hook = _normalise_hook(hook)
    pos = Axis("pos", cfg.n_ctx, "index", POSITION_TICKS)
    head = Axis("head", cfg.n_heads)
    short = hook.split(".")[-1]
    if short in ("hook_q", "hook_k", "hook_v", "hook_z"):
        return (pos, head, Axis("d_head", cfg.d_head))
    if short in ("hook_attn_scores", "hook_pattern"):
        return (head, pos, Axis("key_pos", cfg.n_ctx, "index", POSITION_TICKS))
    if short in ("hook_pre", "hook_post"):
        return (pos, Axis("neuron", cfg.d_mlp))
    if hook == "logits":
        return (pos, Axis("logit", cfg.p, "token", tuple(str(i) for i in range(cfg.p))))
    return (pos, Axis("d_model", cfg.d_model))


def _bytes_per_input(cfg, hooks) -> int:
    return 4 * sum(int(torch.Size([a.size for a in hook_axes(h, cfg)]).numel()) for h in hooks)


class CheckpointActivations:
    """The activations of one checkpoint over all inputs: ``get(hook)`` → tensor [p², ...]."""

    def __init__(self, model, epoch, chunk_bytes: int, lazy: bool = False):
        self.model = model
        self.epoch = epoch
        self.cfg = model.cfg
        self.chunk_bytes = chunk_bytes
        self.tensors: dict[str, torch.Tensor] = {}
        if not lazy:
            self._compute(CACHE_NAMES)

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.tensors.values())

    def _compute(self, hooks) -> None:
        hooks = [h for h in hooks if h not in self.tensors]
        if not hooks:
            return
        p = self.cfg.p
        tokens = all_tokens(p)
        rows = max(1, min(len(tokens), self.chunk_bytes // max(_bytes_per_input(self.cfg, hooks), 1)))
        hook_set = set(hooks)
        out: dict[str, torch.Tensor] = {}
        with torch.inference_mode():
            for start in range(0, len(tokens), rows):
                chunk = tokens[start:start + rows]
                logits, cache = self.model.run_with_cache(chunk, names_filter=lambda n: n in hook_set)
                cache = dict(cache)
                if "logits" in hook_set:
                    cache["logits"] = logits
                if rows >= len(tokens):
                    out = cache
                    break
                for name, value in cache.items():
                    if name not in out:
                        out[name] = value.new_empty((len(tokens),) + tuple(value.shape[1:]))
                    out[name][start:start + len(chunk)] = value
        for name in hooks:
            self.tensors[name] = out[name]

    def get(self, hook: str) -> torch.Tensor:
        hook = _normalise_hook(hook)
        if hook not in self.tensors:
            self._compute([hook])
        return self.tensors[hook]

    def labelled(self, hook: str) -> LabelledTensor:
        """``hook`` with the batch split into ``a, b``: e.g. axes ``a, b, pos, head, d_head``."""
        hook = _normalise_hook(hook)
        p = self.cfg.p
        data = self.get(hook)
        axes = (token_axis("a", p), token_axis("b", p)) + hook_axes(hook, self.cfg)
        return LabelledTensor(data.reshape((p, p) + tuple(data.shape[1:])), axes, title=hook,
                              meta={"hook": hook, "epoch": self.epoch})


class ActivationStore:
    """All-input caches per checkpoint with an LRU bounded by ``max_bytes`` and ``max_checkpoints``.

    ``run`` is a :class:`grokviz.core.run.Run` (or use :meth:`for_model` for a bare model).
    The newest entry is always kept even when it alone exceeds ``max_bytes``.
    """

    def __init__(self, run=None, *, max_bytes: int = 1 << 30, max_checkpoints: int = 3,
                 chunk_bytes: int = 512 << 20, lazy: bool = False, model_factory=None, task=None):
        self.run = run
        self.task = task if task is not None else (run.task if run is not None else None)
        self.max_bytes = int(max_bytes)
        self.max_checkpoints = int(max_checkpoints)
        self.chunk_bytes = int(chunk_bytes)
        self.lazy = lazy
        self._model_factory = model_factory or (lambda epoch: run.model(epoch))
        self._entries: "OrderedDict[object, CheckpointActivations]" = OrderedDict()

    @classmethod
    def for_model(cls, model, task=None, **kwargs) -> "ActivationStore":
        return cls(None, model_factory=lambda epoch: model, task=task, **kwargs)

    def _key(self, epoch):
        if self.run is None:
            return None
        return int(self.run.epochs[-1] if epoch is None else self.run.nearest_epoch(epoch))

    def at(self, epoch=None) -> CheckpointActivations:
        """Activations at ``epoch`` (final by default; the nearest checkpoint when not exact)."""
        key = self._key(epoch)
        entry = self._entries.pop(key, None)
        if entry is None:
            entry = CheckpointActivations(self._model_factory(key), key, self.chunk_bytes, self.lazy)
        self._entries[key] = entry
        self._evict()
        return entry

    def _evict(self) -> None:
        while len(self._entries) > 1 and (len(self._entries) > self.max_checkpoints or self.nbytes > self.max_bytes):
            self._entries.popitem(last=False)

    @property
    def nbytes(self) -> int:
        return sum(e.nbytes for e in self._entries.values())

    @property
    def cached_epochs(self) -> list:
        return list(self._entries)

    def get(self, hook: str, epoch=None) -> torch.Tensor:
        entry = self.at(epoch)
        value = entry.get(hook)
        self._evict()
        return value

    def labelled(self, hook: str, epoch=None) -> LabelledTensor:
        entry = self.at(epoch)
        value = entry.labelled(hook)
        self._evict()
        return value

    def clear(self) -> None:
        self._entries.clear()
