"""Where the Explorer's tensors come from.

The Explorer widget only needs a :class:`ExplorerSource`: names of hooks (and weights /
derived matrices), which token positions and orderings each offers, and
``get(hook, position, ordering, epoch) -> LabelledTensor``.  The main window owns the source and
passes the shared checkpoint epoch; the Explorer caches what it fetched.

* :class:`StaticSource` — a fixed dict of LabelledTensors (tests, notebooks, the benchmark).
* :class:`AnalysisExplorerSource` — a run's activation caches and re-orderings from
  ``grokviz.analysis`` (available once ``grokviz.analysis.cache`` / ``reorder`` exist).
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

from grokviz.analysis.labelled import LabelledTensor

POSITIONS = ("a", "b", "=")
ORDERINGS = ("[a, b]", "[c, a]", "[c, b]", "[a, c]", "[b, c]", "[b, a]")


@runtime_checkable
class ExplorerSource(Protocol):
    """What the Explorer asks of a data source.  ``positions(hook)`` / ``orderings(hook)``
    return the choices for that hook (an empty tuple disables the control, e.g. for W_E);
    ``epochs()`` the checkpoint epochs (empty: no checkpoints); ``context()`` the
    :class:`~grokviz.gui.explorer.state.ExplorerContext` (task, key frequencies);
    ``overlays(...)`` optional extra series of the same shape."""

    def hook_names(self) -> list: ...

    def positions(self, hook: str) -> tuple: ...

    def orderings(self, hook: str) -> tuple: ...

    def epochs(self) -> list: ...

    def get(self, hook: str, position: str | None, ordering: str | None, epoch: int | None) -> LabelledTensor: ...

    def context(self): ...

    def overlays(self, hook: str, position: str | None, ordering: str | None, epoch: int | None) -> dict: ...


class StaticSource:
    """A fixed set of tensors: ``{name: LabelledTensor or callable(position, ordering, epoch)}``."""

    def __init__(self, tensors: dict, context=None, overlays: dict | None = None,
                 positions: tuple = (), orderings: tuple = (), epochs: list | None = None):
        from grokviz.gui.explorer.state import ExplorerContext

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

    def get(self, hook, position=None, ordering=None, epoch=None) -> LabelledTensor:
        value = self._tensors[hook]
        return value(position, ordering, epoch) if callable(value) else value

    def context(self):
        return self._context

    def overlays(self, hook, position=None, ordering=None, epoch=None) -> dict:
        value = self._overlays.get(hook, {})
        return value(position, ordering, epoch) if callable(value) else dict(value)


# ------------------------------------------------------------------------ a run's tensors

WEIGHT_NAMES = ("W_E", "W_pos", "W_U", "W_neur", "W_logit")


def _layout(ordering: str | None) -> str:
    return (ordering or "[c, a]").strip("[]").replace(",", "").replace(" ", "")


class AnalysisExplorerSource:
    """A run's activations (every cached hook over all p² inputs, re-ordered by
    :func:`grokviz.analysis.reorder.reorder`) and weights / derived matrices (W_E, W_pos, W_U,
    W_neur, W_logit) at any checkpoint.

    ``AnalysisExplorerSource(run, store=None, key_frequencies=None, model_at=None)``:
    ``store`` an :class:`~grokviz.analysis.cache.ActivationStore` to share (default: a new one);
    ``key_frequencies`` (default: the run session's ``key_frequencies`` report at the final epoch);
    ``model_at(epoch)`` a model provider (e.g. the AppState's cached ``state.model``).
    For ``[c, a]`` / ``[a, c]`` orderings with complete grids the c/2 cosine model
    (:func:`grokviz.analysis.symmetry.fit_c2_model` over the key frequencies) is an overlay.
    Runs the model synchronously on first access of a checkpoint (about a second on CPU).
    """

    def __init__(self, run, store=None, key_frequencies=None, model_at=None, c2_overlay: bool = True, session=None):
        from grokviz.analysis.cache import ActivationStore
        from grokviz.analysis.session import session_of

        self.run = run
        self.task = run.task
        self.session = session if session is not None else session_of(run)
        self.store = store if store is not None else ActivationStore(run, lazy=True)
        self._given_keys = None if key_frequencies is None else tuple(int(k) for k in key_frequencies)
        self._model_at = model_at or (lambda epoch: run.model(epoch))
        self.c2_overlay = c2_overlay
        self._last = None  # (key, tensor) of the last get, for overlays()

    # -- protocol -------------------------------------------------------------------
    default_hook = "blocks.0.hook_resid_post"

    def hook_names(self) -> list:
        from grokviz.analysis.cache import CACHE_NAMES

        return list(CACHE_NAMES) + list(WEIGHT_NAMES)

    def positions(self, hook: str) -> tuple:
        return () if hook in WEIGHT_NAMES else POSITIONS

    def orderings(self, hook: str) -> tuple:
        return () if hook in WEIGHT_NAMES else ORDERINGS

    def epochs(self) -> list:
        return list(self.run.epochs)

    def key_frequencies(self) -> tuple:
        if self._given_keys is not None:
            return self._given_keys
        try:
            return tuple(self.session.report("key_frequencies", None).frequencies)
        except Exception:  # a view must open even if the spectrum cannot be computed
            return ()

    def context(self):
        from grokviz.gui.explorer.state import ExplorerContext

        return ExplorerContext(task=self.task, key_frequencies=self.key_frequencies())

    def get(self, hook, position=None, ordering=None, epoch=None) -> LabelledTensor:
        key = (hook, position, ordering, epoch)
        if hook in WEIGHT_NAMES:
            tensor = self._weight(hook, epoch)
        else:
            from grokviz.analysis.reorder import reorder

            labelled = self.store.labelled(hook, epoch)
            tensor = reorder(labelled, self.task, _layout(ordering), position=position or "=")
            where = f" at {position or '='}, {ordering or '[c, a]'}"
            tensor = tensor.with_data(tensor.data, title=f"{hook}{where}")
        self._last = (key, tensor)
        return tensor

    def overlays(self, hook, position=None, ordering=None, epoch=None) -> dict:
        if not self.c2_overlay or hook in WEIGHT_NAMES or _layout(ordering) not in ("ca", "ac"):
            return {}
        key = (hook, position, ordering, epoch)
        tensor = self._last[1] if self._last and self._last[0] == key else self.get(hook, position, ordering, epoch)
        keys = self.key_frequencies()
        if tensor.ragged or not keys:
            return {}
        try:
            from grokviz.analysis.symmetry import fit_c2_model

            fit = fit_c2_model(tensor, keys)
        except Exception:
            return {}
        if not math.isfinite(fit.r2):  # e.g. a hook that does not depend on a at all
            return {}
        return {f"c/2 cosine model (R² {fit.r2:.3f})": fit.waves}

    # -- weights ----------------------------------------------------------------------
    def _weight(self, name: str, epoch) -> LabelledTensor:
        import torch

        from grokviz.analysis.cache import token_axis
        from grokviz.analysis.labelled import Axis

        model = self._model_at(epoch)
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
