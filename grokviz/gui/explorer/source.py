"""Where the Explorer's tensors come from.

The Explorer widget only needs a :class:`ExplorerSource`: names of hooks (and weights /
derived matrices), which token positions and orderings each offers, and
``get(hook, position, ordering, epoch) -> LabelledTensor``. The Explorer keeps no cache of its
own: a run's data is cached once, in its :class:`~grokviz.analysis.session.RunSession`.
The orderings and positions on offer, and the defaults, come from
:mod:`grokviz.analysis.reorder` (data, so new orderings need no widget change).

* :class:`StaticSource` — a fixed dict of LabelledTensors (tests, notebooks, the benchmark).
* :class:`AnalysisExplorerSource` — a run session's activations, re-ordered, and its weights.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

from grokviz.analysis import reorder as _reorder
from grokviz.analysis.labelled import LabelledTensor
from grokviz.gui.explorer.model import ExplorerContext

POSITIONS = _reorder.POSITIONS
ORDERINGS = _reorder.orderings()


@runtime_checkable
class ExplorerSource(Protocol):
    """What the Explorer asks of a data source.  ``positions(hook)`` / ``orderings(hook)``
    return the choices for that hook (an empty tuple disables the control, e.g. for W_E);
    ``epochs()`` the checkpoint epochs (empty: no checkpoints); ``context()`` the
    :class:`~grokviz.gui.explorer.model.ExplorerContext` (task, key frequencies);
    ``overlays(...)`` optional extra series of the same shape. Optional: ``default_hook``,
    ``default_position(hook)``, ``default_ordering(hook)``."""

    def hook_names(self) -> list: ...

    def positions(self, hook: str) -> tuple: ...

    def orderings(self, hook: str) -> tuple: ...

    def epochs(self) -> list: ...

    def get(self, hook: str, position: str | None, ordering: str | None, epoch: int | None) -> LabelledTensor: ...

    def context(self): ...

    def overlays(self, hook: str, position: str | None, ordering: str | None, epoch: int | None,
                 tensor: LabelledTensor | None = None) -> dict: ...


class StaticSource:
    """A fixed set of tensors: ``{name: LabelledTensor or callable(position, ordering, epoch)}``."""

    def __init__(self, tensors: dict, context=None, overlays: dict | None = None,
                 positions: tuple = (), orderings: tuple = (), epochs: list | None = None):
        self._tensors = dict(tensors)
        self._context = context or ExplorerContext()
        self._overlays = overlays or {}
        self._positions = tuple(positions)
        self._orderings = tuple(orderings)
        self._epochs = list(epochs or [])

    def hook_names(self) -> list:
        return list(self._tensors)

    def positions(self, hook: str) -> tuple:
        return self._positions if callable(self._tensors[hook]) else ()

    def orderings(self, hook: str) -> tuple:
        return self._orderings if callable(self._tensors[hook]) else ()

    def epochs(self) -> list:
        return self._epochs

    def default_position(self, hook: str) -> str | None:
        return _reorder.DEFAULT_POSITION

    def default_ordering(self, hook: str) -> str | None:
        return _reorder.default_ordering()

    def get(self, hook, position=None, ordering=None, epoch=None) -> LabelledTensor:
        value = self._tensors[hook]
        return value(position, ordering, epoch) if callable(value) else value

    def context(self):
        return self._context

    def overlays(self, hook, position=None, ordering=None, epoch=None, tensor=None) -> dict:
        value = self._overlays.get(hook, {})
        return value(position, ordering, epoch) if callable(value) else dict(value)


# ------------------------------------------------------------------------ a run's tensors

WEIGHT_NAMES = ("W_E", "W_pos", "W_U", "W_neur", "W_logit")


class AnalysisExplorerSource:
    """A run's activations (every cached hook over all p² inputs, re-ordered by
    :func:`grokviz.analysis.reorder.reorder`) and weights / derived matrices (W_E, W_pos, W_U,
    W_neur, W_logit) at any checkpoint, read through the run's
    :class:`~grokviz.analysis.session.RunSession` (which caches models and activations).

    ``AnalysisExplorerSource(session, key_frequencies=None)``: ``session`` a RunSession (a Run
    gets one of its own); ``key_frequencies`` (default: the session's ``key_frequencies`` report
    at the final checkpoint, computed on first use, in the worker that loads a tensor).
    On orderings with c/2 mirrors ([c, a] for add, [c, u] for pow with m = n, [w, u] for mul) the
    c/2 cosine model (:func:`grokviz.analysis.symmetry.fit_c2_task` over the key frequencies, in
    task coordinates) is an overlay.
    Thread-safe as far as the session is: :meth:`get` and :meth:`overlays` run in workers.
    """

    default_hook = "blocks.0.hook_resid_post"

    def __init__(self, session, key_frequencies=None, c2_overlay: bool = True):
        from grokviz.analysis.session import RunSession, session_of

        self.session = session if isinstance(session, RunSession) else session_of(session)
        self.run = self.session.run
        self.task = self.run.task
        self._keys = None if key_frequencies is None else tuple(int(k) for k in key_frequencies)
        self.c2_overlay = c2_overlay

    # -- protocol -------------------------------------------------------------------
    def hook_names(self) -> list:
        from grokviz.analysis.cache import CACHE_NAMES

        return list(CACHE_NAMES) + list(WEIGHT_NAMES)

    def positions(self, hook: str) -> tuple:
        return () if hook in WEIGHT_NAMES else _reorder.POSITIONS

    def orderings(self, hook: str) -> tuple:
        return () if hook in WEIGHT_NAMES else _reorder.orderings(self.task)

    def default_position(self, hook: str) -> str:
        return _reorder.DEFAULT_POSITION

    def default_ordering(self, hook: str) -> str:
        return _reorder.default_ordering(self.task)

    def epochs(self) -> list:
        return list(self.run.epochs)

    def set_key_frequencies(self, keys) -> None:
        self._keys = None if keys is None else tuple(int(k) for k in keys)

    def key_frequencies(self) -> tuple:
        if self._keys is None:
            try:
                self._keys = tuple(int(k) for k in self.session.report("key_frequencies", None).frequencies)
            except Exception:  # noqa: BLE001 - a view must open even if the spectrum cannot be computed
                self._keys = ()
        return self._keys

    def context(self):
        return ExplorerContext(task=self.task, key_frequencies=self.key_frequencies())

    def get(self, hook, position=None, ordering=None, epoch=None) -> LabelledTensor:
        if hook in WEIGHT_NAMES:
            return self._weight(hook, epoch)
        ordering = ordering or _reorder.default_ordering(self.task)
        position = position or _reorder.DEFAULT_POSITION
        labelled = self.session.activations(hook, epoch)
        tensor = _reorder.reorder(labelled, self.task, ordering, position=position)
        return tensor.with_data(tensor.data, title=f"{hook} at {position}, {ordering}")

    def overlays(self, hook, position=None, ordering=None, epoch=None, tensor=None) -> dict:
        """The c/2 cosine model (fitted in task coordinates, :func:`grokviz.analysis.symmetry.fit_c2_task`)
        on orderings where the c/2 points are mirrors (:func:`grokviz.analysis.reorder.has_mirrors`:
        [c, a] for add, [c, u] for pow with m = n, [w, u] for mul)."""
        ordering = ordering or _reorder.default_ordering(self.task)
        if not self.c2_overlay or hook in WEIGHT_NAMES or not _reorder.has_mirrors(self.task, ordering):
            return {}
        keys = self.key_frequencies()
        if not keys:
            return {}
        position = position or _reorder.DEFAULT_POSITION
        try:
            from grokviz.analysis.symmetry import fit_c2_task

            labelled = self.session.activations(hook, epoch)
            if "pos" in labelled.names:
                labelled = labelled.select(pos=_reorder.POSITIONS.index(position))
            fit = fit_c2_task(labelled, self.task.coordinates(), keys)
            waves = _reorder.reorder(fit.waves, self.task, ordering)
        except Exception:  # noqa: BLE001 - no overlay rather than no view
            return {}
        if not math.isfinite(fit.r2):  # e.g. a hook that does not depend on a at all
            return {}
        return {f"c/2 cosine model (R² {fit.r2:.3f})": waves}

    # -- weights ----------------------------------------------------------------------
    def _weight(self, name: str, epoch) -> LabelledTensor:
        import torch

        from grokviz.analysis.labelled import token_axis
        from grokviz.analysis.labelled import Axis

        model = self.session.model(epoch)
        cfg = model.cfg
        p = cfg.p
        with torch.no_grad():
            if name == "W_E":
                return LabelledTensor(model.embed.W_E[:p].detach().clone(),
                                      (token_axis("token", p), Axis("d_model", cfg.d_model)),
                                      title="W_E (number tokens)")
            if name == "W_pos":
                return LabelledTensor(model.pos_embed.W_pos.detach().clone(),
                                      (Axis("pos", cfg.n_ctx, "index", ("a", "b", "=")), Axis("d_model", cfg.d_model)),
                                      title="W_pos")
            if name == "W_U":
                return LabelledTensor(model.unembed.W_U.detach().clone(),
                                      (Axis("d_model", cfg.d_model), token_axis("c", p)), title="W_U")
            if name == "W_neur":
                from grokviz.analysis.neurons import neuron_input_weights

                return neuron_input_weights(model)
            if name == "W_logit":
                from grokviz.analysis.neurons import logit_weights_fourier

                return logit_weights_fourier(model)
        raise KeyError(name)
