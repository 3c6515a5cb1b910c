"""The Explorer's view state (napari's ``Dims``): a plain Python model with psygnal events, no Qt.

It holds everything a user chooses in the Explorer and nothing that is drawn:

* the selection — hook, token position, ordering of the p² inputs (design.md §6), checkpoint
  epoch — and the choices for it (from a *menu*: any object with ``hook_names()``,
  ``positions(hook)``, ``orderings(hook)`` and optionally ``default_hook``,
  ``default_position(hook)``, ``default_ordering(hook)``; an ExplorerSource is one);
* the tensor on show (with same-shape overlays and its :class:`ExplorerContext`);
* axis roles — x (lines) or x and y (heatmap), an optional series axis (lines only) — with the
  conflict rules of :meth:`ExplorerModel.assign`, the slider index of every other axis, the
  focused slider axis, the probe (● marker) on a token x axis;
* Fourier per axis, what a Fourier axis shows (``component``), what a heatmap shows
  (``heatmap``: the tensor, an overlay or the residual ``tensor − overlay``), the y range mode.

:meth:`ExplorerModel.as_dict` / :meth:`ExplorerModel.from_dict` give a JSON-safe form (axes by
name), so a view can be saved, restored and written next to an exported figure. Widgets bind to
the events; tests and the benchmark drive the setters. Imports no Qt (only psygnal), so the
model works and is tested without a display.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psygnal import Signal

COMPONENTS = ("magnitude", "phase", "coefficients")
Y_RANGE_MODES = ("fixed", "auto")
ROLES = ("x", "y", "series")
TENSOR = "tensor"  # the heatmap choice "the tensor itself"
RESIDUAL = "tensor − "  # prefix of the heatmap choice "tensor minus an overlay"
FOCUS_AXIS = "c"  # the slider that gets the focus when it exists: scrolling the answer
INPUT_ORDERING = "[a, b]"  # the ordering :meth:`ExplorerModel.show_input` shows one input in
STATE_VERSION = 1


@dataclass
class ExplorerContext:
    """What the Explorer knows besides the tensor: the task (for the (a, b, c) readout and the
    equation message) and the key frequencies (highlighted in Fourier mode)."""

    task: object | None = None  # grokviz.core.tasks.Task
    key_frequencies: tuple = ()
    label: str = ""  # e.g. "epoch 25000"
    extra: dict = field(default_factory=dict)


def _pick(items, preferred=None):
    """``preferred`` if it is one of ``items``, else the first item (None if there are none)."""
    items = tuple(items)
    if preferred in items:
        return preferred
    return items[0] if items else None


class ExplorerModel:
    """View state of one Explorer (see the module docstring). Events (psygnal signals):

    ``selection_changed()`` hook / position / ordering / epoch or their choices;
    ``tensor_changed()`` new tensor or overlays (everything is re-prepared);
    ``roles_changed()`` axis roles, Fourier axes or component (re-prepared);
    ``index_changed(dim, index)`` a slider moved (only a redraw);
    ``focus_changed(dim)``, ``probe_changed()``, ``range_mode_changed()``,
    ``heatmap_changed(choice)``, ``context_changed()``.
    """

    selection_changed = Signal()
    tensor_changed = Signal()
    roles_changed = Signal()
    index_changed = Signal(int, int)
    focus_changed = Signal(object)
    probe_changed = Signal()
    range_mode_changed = Signal()
    heatmap_changed = Signal(str)
    context_changed = Signal()

    def __init__(self):
        # selection
        self.menu = None
        self.hooks: tuple = ()
        self.positions: tuple = ()
        self.orderings: tuple = ()
        self.hook: str | None = None
        self.position: str | None = None
        self.ordering: str | None = None
        self.epoch: int | None = None
        # data
        self.tensor = None  # grokviz.analysis.labelled.LabelledTensor
        self.overlays: dict = {}
        self.context = ExplorerContext()
        self._axis_names: tuple = ()  # of the tensor on show, or of a restored view awaiting it
        # view
        self.x_dim: int = 0
        self.y_dim: int | None = None
        self.series_dim: int | None = None
        self.indices: list[int] = []
        self.fourier: set = set()
        self.component: str = "magnitude"
        self.y_range: str = "fixed"
        self.probe: int | None = None
        self.focus_dim: int | None = None
        self.heatmap: str = TENSOR
        self._pending_input: dict | None = None  # {"a": a, "b": b} waiting for an [a, b] tensor

    # ================================================================== queries
    @property
    def ndim(self) -> int:
        return len(self._axis_names)

    @property
    def axis_names(self) -> tuple:
        return self._axis_names

    @property
    def is_heatmap(self) -> bool:
        return self.y_dim is not None

    @property
    def displayed_dims(self) -> tuple:
        return (self.x_dim,) if self.y_dim is None else (self.y_dim, self.x_dim)

    @property
    def slider_dims(self) -> tuple:
        used = {self.x_dim, self.y_dim, self.series_dim}
        return tuple(d for d in range(self.ndim) if d not in used)

    def fourier_dims(self) -> tuple:
        """The displayed dims currently in Fourier mode (sorted)."""
        return tuple(sorted(d for d in self.fourier if d in self.displayed_dims))

    def index_of(self, name: str) -> int | None:
        """Slider index of the axis ``name`` if that axis is on a slider, else None."""
        if name not in self._axis_names:
            return None
        dim = self._axis_names.index(name)
        return self.indices[dim] if dim in self.slider_dims else None

    @property
    def request_key(self) -> tuple | None:
        """(hook, position, ordering, epoch) of the selection, None without a hook."""
        return None if self.hook is None else (self.hook, self.position, self.ordering, self.epoch)

    @property
    def heatmap_choices(self) -> tuple:
        choices = [TENSOR]
        for name in self.overlays:
            choices += [name, RESIDUAL + name]
        return tuple(choices)

    # ================================================================== selection
    def set_menu(self, menu) -> None:
        """Offer ``menu``'s hooks (None: no selection). A selected hook that the menu also has
        is kept (e.g. restored from a saved view); otherwise the menu's default hook is chosen."""
        self.menu = menu
        self.hooks = tuple(str(h) for h in menu.hook_names()) if menu is not None else ()
        self._choose_hook()
        self.selection_changed.emit()

    def _choose_hook(self) -> None:
        """Keep the hook if the menu has it, else take the menu's default; then its choices."""
        default = getattr(self.menu, "default_hook", None)
        default = default() if callable(default) else default
        self.hook = _pick(self.hooks, self.hook if self.hook in self.hooks else default)
        self._fill_hook_choices()

    def _fill_hook_choices(self) -> None:
        menu, hook = self.menu, self.hook
        if menu is None or hook is None:
            self.positions, self.orderings, self.position, self.ordering = (), (), None, None
            return
        self.positions = tuple(menu.positions(hook) or ())
        self.orderings = tuple(menu.orderings(hook) or ())
        for attr, items, default_name in (("position", self.positions, "default_position"),
                                          ("ordering", self.orderings, "default_ordering")):
            current = getattr(self, attr)
            default = getattr(menu, default_name, None)
            preferred = current if current in items else (default(hook) if callable(default) else None)
            setattr(self, attr, _pick(items, preferred))

    def select(self, hook: str | None = None, position: str | None = None, ordering: str | None = None) -> bool:
        """Choose the hook / position / ordering (None keeps it); unknown names raise ValueError.
        A new hook keeps the position and ordering when it offers them. True if anything changed."""
        before = (self.hook, self.position, self.ordering, self.positions, self.orderings)
        if hook is not None and hook != self.hook:
            if self.menu is not None and hook not in self.hooks:
                raise ValueError(f"unknown hook {hook!r}")
            self.hook = hook
            self._fill_hook_choices()
        for attr, value, items in (("position", position, self.positions), ("ordering", ordering, self.orderings)):
            if value is None or value == getattr(self, attr):
                continue
            if self.menu is not None and value not in items:
                raise ValueError(f"{self.hook} offers no {attr} {value!r}; choose from {', '.join(items) or 'none'}")
            setattr(self, attr, value)
        changed = before != (self.hook, self.position, self.ordering, self.positions, self.orderings)
        if self.ordering != INPUT_ORDERING:
            self._pending_input = None  # the user moved on before the input's tensor arrived
        if changed:
            self.selection_changed.emit()
        return changed

    def show_input(self, a: int, b: int) -> None:
        """Show the single input (a, b): the [a, b] ordering (an activation hook if the current one,
        e.g. W_E, has no orderings), its a and b axes on sliders at a and b, the remaining axis on x
        (for a tensor with no other axis: b on x with the probe at b). Applied now if such a tensor is
        on show, else when it arrives."""
        self._pending_input = {"a": int(a), "b": int(b)}
        if INPUT_ORDERING not in self.orderings:
            default = getattr(self.menu, "default_hook", None)
            default = default() if callable(default) else default
            hook = next((h for h in (default, *self.hooks) if h in self.hooks and self.menu is not None
                         and INPUT_ORDERING in (self.menu.orderings(h) or ())), None)
            if hook is None:
                self._pending_input = None
                raise ValueError(f"no hook offers the {INPUT_ORDERING} ordering")
            self.select(hook=hook)
            self._pending_input = {"a": int(a), "b": int(b)}
        if not self.select(ordering=INPUT_ORDERING) and self.tensor is not None and self._apply_input():
            self.roles_changed.emit()

    def _apply_input(self) -> bool:
        """Put the pending input on the sliders of the tensor on show (no event); False if it has no a, b axes."""
        wanted, names = self._pending_input, self._axis_names
        if wanted is None or "a" not in names or "b" not in names:
            return False
        self._pending_input = None
        dim_a, dim_b = names.index("a"), names.index("b")
        others = [d for d in range(len(names)) if d not in (dim_a, dim_b)]
        self.x_dim, self.y_dim, self.series_dim = (others[-1] if others else dim_b), None, None
        shape = tuple(self.tensor.shape)
        for dim in (dim_a, dim_b):
            self.indices[dim] = max(0, min(wanted[names[dim]], shape[dim] - 1))
        self.fourier.discard(dim_a)
        self.fourier.discard(dim_b)
        self.probe = self.indices[dim_b] if not others else None
        self.focus_dim = dim_a
        return True

    def set_epoch(self, epoch: int | None) -> None:
        epoch = None if epoch is None else int(epoch)
        if epoch != self.epoch:
            self.epoch = epoch
            self.selection_changed.emit()

    # ================================================================== tensor
    def set_tensor(self, tensor, overlays: dict | None = None, context: ExplorerContext | None = None) -> None:
        """Show ``tensor``. With the same axis names as before (or as a restored view), the roles,
        Fourier modes, slider indices (clamped), probe and focus are kept, so following a
        checkpoint or switching hooks with the same layout does not reset the view."""
        if context is not None:
            self.context = context
        self.tensor = tensor
        self.overlays = {}
        if tensor is None:
            self.indices = []
            self._axis_names = ()
            self.focus_dim = None
            self.tensor_changed.emit()
            return
        for name, overlay in (overlays or {}).items():
            self._check_overlay(name, overlay)
            self.overlays[str(name)] = overlay
        names = tuple(tensor.names)
        shape = tuple(tensor.shape)
        if names != self._axis_names or len(self.indices) != len(names):
            self._axis_names = names
            self.x_dim, self.y_dim, self.series_dim = len(names) - 1, None, None
            self.fourier, self.indices, self.probe, self.focus_dim = set(), [0] * len(names), None, None
        else:
            self.indices = [min(i, s - 1) for i, s in zip(self.indices, shape)]
            if self.probe is not None and self.probe >= shape[self.x_dim]:
                self.probe = None
        if self.heatmap not in self.heatmap_choices:
            self.heatmap = TENSOR
        self._apply_input()
        self._fix_focus()
        self.tensor_changed.emit()

    def _check_overlay(self, name, overlay) -> None:
        if self.tensor is None:
            raise ValueError("set a tensor before its overlays")
        if tuple(overlay.shape) != tuple(self.tensor.shape):
            raise ValueError(f"overlay {name!r} has shape {tuple(overlay.shape)}, the tensor {tuple(self.tensor.shape)}")

    def add_overlay(self, name: str, overlay) -> None:
        """An extra series of the same shape (and axis names) as the tensor."""
        self._check_overlay(name, overlay)
        self.overlays[str(name)] = overlay
        self.tensor_changed.emit()

    def remove_overlay(self, name: str) -> None:
        if self.overlays.pop(name, None) is not None:
            if self.heatmap not in self.heatmap_choices:
                self.heatmap = TENSOR
            self.tensor_changed.emit()

    def set_context(self, context: ExplorerContext) -> None:
        self.context = context
        self.context_changed.emit()

    def set_key_frequencies(self, keys) -> None:
        ctx = self.context
        self.set_context(ExplorerContext(ctx.task, tuple(int(k) for k in keys or ()), ctx.label, ctx.extra))

    # ================================================================== roles
    def set_roles(self, x: int, y: int | None = None, series: int | None = None) -> None:
        """Choose the displayed axes: ``x`` alone (lines) or ``x`` and ``y`` (heatmap), and an
        optional ``series`` axis drawn as overlaid curves (lines only; dropped for heatmaps)."""
        nd = self.ndim
        dims = [d for d in (x, y, series) if d is not None]
        if any(not 0 <= d < nd for d in dims):
            raise IndexError(f"axis roles {dims} out of range for a {nd}-d tensor")
        if len(set(dims)) != len(dims):
            raise ValueError(f"an axis can have only one role: x={x}, y={y}, series={series}")
        if y is not None:
            series = None
        if (x, y, series) == (self.x_dim, self.y_dim, self.series_dim):
            return
        if x != self.x_dim:
            self.probe = None
        self.x_dim, self.y_dim, self.series_dim = x, y, series
        self._fix_focus()
        self.roles_changed.emit()

    def assign(self, role: str, dim: int | None) -> None:
        """Give ``dim`` the ``role`` ("x", "y" or "series"; None clears y or series), resolving
        conflicts: the newly chosen role wins and the axis it displaces gets a slider — except
        that x always exists (taking y's old axis, else the first free one), a y axis (a heatmap)
        clears the series, and a series clears y (series are lines)."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        x, y, series = self.x_dim, self.y_dim, self.series_dim
        if role == "x":
            if dim is None:
                raise ValueError("the x role needs an axis")
            x = dim
            y = None if y == dim else y
            series = None if series == dim else series
        elif role == "y":
            if dim is not None and dim == x:
                x = self.y_dim if self.y_dim is not None and self.y_dim != dim else self._first_other(dim)
            y, series = dim, None
        else:
            if dim is not None and dim == x:
                x = self._first_other(dim)
            series, y = dim, None
        self.set_roles(x, y, series)

    def _first_other(self, dim: int) -> int:
        return next(d for d in range(self.ndim) if d != dim)

    def set_fourier(self, dim: int, on: bool) -> None:
        wanted = (self.fourier | {dim}) if on else (self.fourier - {dim})
        self.set_fourier_dims(wanted)

    def set_fourier_dims(self, dims) -> None:
        """Exactly these dims in Fourier mode (one event)."""
        dims = {int(d) for d in dims}
        if dims != self.fourier:
            self.fourier = dims
            self.roles_changed.emit()

    def set_displayed_fourier(self, x: bool, y: bool = False) -> None:
        """Fourier on the x axis and (for a heatmap) the y axis; other axes' modes are dropped."""
        wanted = {self.x_dim} if x else set()
        if y and self.y_dim is not None:
            wanted.add(self.y_dim)
        self.set_fourier_dims(wanted)

    def set_component(self, component: str) -> None:
        if component not in COMPONENTS:
            raise ValueError(f"component must be one of {COMPONENTS}")
        if component != self.component:
            self.component = component
            self.roles_changed.emit()

    def set_heatmap(self, choice: str) -> None:
        """What a heatmap shows: the tensor, an overlay, or ``"tensor − <overlay>"``."""
        if choice not in self.heatmap_choices:
            raise ValueError(f"heatmap choice {choice!r} is not one of {self.heatmap_choices}")
        if choice != self.heatmap:
            self.heatmap = choice
            self.heatmap_changed.emit(choice)

    def set_y_range_mode(self, mode: str) -> None:
        if mode not in Y_RANGE_MODES:
            raise ValueError(f"y range mode must be one of {Y_RANGE_MODES}")
        if mode != self.y_range:
            self.y_range = mode
            self.range_mode_changed.emit()

    # ================================================================== sliders, focus, probe
    def set_index(self, dim: int, index: int) -> None:
        size = self.tensor.shape[dim]
        index = max(0, min(int(index), size - 1))
        if self.indices[dim] != index:
            self.indices[dim] = index
            self.index_changed.emit(dim, index)

    def step(self, dim: int, delta: int = 1, loop: bool = True) -> bool:
        """Move the slider of ``dim`` by ``delta``; wraps when ``loop``. Returns False at an end."""
        size = self.tensor.shape[dim]
        new = self.indices[dim] + delta
        if loop:
            new %= size
        elif not 0 <= new < size:
            return False
        self.set_index(dim, new)
        return True

    def set_focus(self, dim: int | None) -> None:
        if dim is not None and dim not in self.slider_dims:
            raise ValueError(f"axis {dim} is not on a slider")
        if dim != self.focus_dim:
            self.focus_dim = dim
            self.focus_changed.emit(dim)

    def move_focus(self, delta: int) -> None:
        """Focus the slider ``delta`` rows down (negative: up), wrapping."""
        dims = list(self.slider_dims)
        if not dims:
            return
        i = dims.index(self.focus_dim) if self.focus_dim in dims else 0
        self.set_focus(dims[(i + delta) % len(dims)])

    def step_focused(self, delta: int, loop: bool = True) -> bool:
        return self.focus_dim is not None and self.step(self.focus_dim, delta, loop)

    def _fix_focus(self) -> None:
        """Keep the focus on a slider: the answer axis c if it has one, else the first slider."""
        sliders = self.slider_dims
        if self.focus_dim in sliders:
            return
        c = self._axis_names.index(FOCUS_AXIS) if FOCUS_AXIS in self._axis_names else None
        self.focus_dim = c if c in sliders else (sliders[0] if sliders else None)
        self.focus_changed.emit(self.focus_dim)

    def set_probe(self, index: int | None) -> None:
        if index != self.probe:
            self.probe = index
            self.probe_changed.emit()

    # ================================================================== saving and restoring
    def as_dict(self) -> dict:
        """The view as JSON-safe data, axes by name (see :meth:`from_dict`)."""
        names = self._axis_names

        def name(dim):
            return None if dim is None else names[dim]

        return {
            "version": STATE_VERSION,
            "hook": self.hook, "position": self.position, "ordering": self.ordering, "epoch": self.epoch,
            "axes": list(names),
            "x": name(self.x_dim) if names else None, "y": name(self.y_dim), "series": name(self.series_dim),
            "indices": {names[d]: int(i) for d, i in enumerate(self.indices)},
            "fourier": [names[d] for d in sorted(self.fourier) if d < len(names)],
            "component": self.component, "y_range": self.y_range, "heatmap": self.heatmap,
            "probe": self.probe, "focus": name(self.focus_dim),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "ExplorerModel":
        model = cls()
        model.restore(data)
        return model

    def restore(self, data: dict) -> None:
        """Apply a saved view (:meth:`as_dict`). Roles and indices wait for a tensor with the
        saved axis names if the one on show differs; a bad view raises one clear ValueError and
        changes nothing."""
        state = _parse_view(data)
        self.hook, self.position, self.ordering, self.epoch = (state["hook"], state["position"],
                                                              state["ordering"], state["epoch"])
        if self.menu is not None:  # keep what the menu offers, else its defaults
            self._choose_hook()
        names = state["axes"]
        if self.tensor is not None and tuple(self.tensor.names) != names:
            self.tensor = None  # the view waits for a tensor of its own layout
            self.overlays = {}
        self._axis_names = names
        self.x_dim, self.y_dim, self.series_dim = state["x"], state["y"], state["series"]
        self.indices = state["indices"]
        if self.tensor is not None:
            self.indices = [min(i, s - 1) for i, s in zip(self.indices, self.tensor.shape)]
        self.fourier, self.component, self.y_range = state["fourier"], state["component"], state["y_range"]
        self.heatmap, self.probe, self.focus_dim = state["heatmap"], state["probe"], state["focus"]
        if self.tensor is not None and self.heatmap not in self.heatmap_choices:
            self.heatmap = TENSOR
        self.selection_changed.emit()
        self.tensor_changed.emit()


def _parse_view(data: Any) -> dict:
    """Validate a saved view; dims resolved from axis names. Raises ValueError (one line)."""
    if not isinstance(data, dict):
        raise ValueError("an Explorer view must be a JSON object")
    if data.get("version") != STATE_VERSION:
        raise ValueError(f"unsupported Explorer view version {data.get('version')!r} (expected {STATE_VERSION})")
    axes = data.get("axes", [])
    if not isinstance(axes, list) or not all(isinstance(a, str) for a in axes) or len(set(axes)) != len(axes):
        raise ValueError("Explorer view: 'axes' must be a list of distinct axis names")
    names = tuple(axes)

    def dim(key, required=False):
        value = data.get(key)
        if value is None:
            if required and names:
                raise ValueError(f"Explorer view: '{key}' must name an axis")
            return None
        if value not in names:
            raise ValueError(f"Explorer view: {key} axis {value!r} is not one of {list(names)}")
        return names.index(value)

    x, y, series = dim("x", required=True), dim("y"), dim("series")
    roles = [d for d in (x, y, series) if d is not None]
    if len(set(roles)) != len(roles) or (y is not None and series is not None):
        raise ValueError("Explorer view: x, y and series must be different axes, and y excludes series")
    indices = data.get("indices", {})
    if not isinstance(indices, dict) or any(not isinstance(v, int) or v < 0 for v in indices.values()):
        raise ValueError("Explorer view: 'indices' must map axis names to non-negative integers")
    fourier = data.get("fourier", [])
    if not isinstance(fourier, list) or any(f not in names for f in fourier):
        raise ValueError(f"Explorer view: 'fourier' must list axes of {list(names)}")
    component, y_range = data.get("component", "magnitude"), data.get("y_range", "fixed")
    if component not in COMPONENTS:
        raise ValueError(f"Explorer view: component must be one of {COMPONENTS}")
    if y_range not in Y_RANGE_MODES:
        raise ValueError(f"Explorer view: y_range must be one of {Y_RANGE_MODES}")
    probe, epoch = data.get("probe"), data.get("epoch")
    for key, value in (("probe", probe), ("epoch", epoch)):
        if value is not None and not isinstance(value, int):
            raise ValueError(f"Explorer view: {key} must be an integer or null")
    for key in ("hook", "position", "ordering", "heatmap"):
        if data.get(key) is not None and not isinstance(data.get(key), str):
            raise ValueError(f"Explorer view: {key} must be a string or null")
    focus = dim("focus")
    if focus is not None and focus in roles:
        raise ValueError("Explorer view: the focused axis must be on a slider")
    return {"hook": data.get("hook"), "position": data.get("position"), "ordering": data.get("ordering"),
            "epoch": epoch, "axes": names, "x": x if x is not None else 0, "y": y, "series": series,
            "indices": [int(indices.get(n, 0)) for n in names], "fourier": {names.index(f) for f in fourier},
            "component": component, "y_range": y_range, "heatmap": data.get("heatmap") or TENSOR,
            "probe": probe, "focus": focus}
