"""The comparison window (File › Compare with…): two runs side by side, each view once per run.

Run A is the main window's :class:`~grokviz.gui.state.AppState` (the comparison follows it, and
leaves it as it was when closed); run B gets an AppState of its own. Each column holds one instance
of every view, built on first show by the main window's own factories (:func:`grokviz.gui.views.view_factory`)
and bound to that column's state, so a view is written once and compared for free. One tab bar picks
the view for both columns; each column has its checkpoint slider. An
:class:`~grokviz.gui.compare.link.EpochLink` pairs the two states' checkpoints (same epoch, or same
fraction of training) and, when "One slider for both" is checked, moves either side with the other.
"""

from __future__ import annotations

import html
import os

from PySide6 import QtCore, QtGui, QtWidgets

from grokviz.core.epochs import MODE_LABELS, MODES
from grokviz.gui import dialogs, views
from grokviz.gui.choice_combo import choice_combo
from grokviz.gui.compare.link import SIDES, EpochLink
from grokviz.gui.run_panel import CheckpointSlider
from grokviz.gui.state import AppState

COMPARED_VIEWS = tuple(name for name in views.VIEW_NAMES if name != "Training")
SIDE_COLORS = {"a": "#0072B2", "b": "#D55E00"}
LAYOUTS = {"side by side": QtCore.Qt.Orientation.Horizontal, "one above the other": QtCore.Qt.Orientation.Vertical}
TITLE_SIZE = "9pt"  # plot titles in a half-width column (the tabs use 11 pt)


def fit_plot_titles(widget, size: str = TITLE_SIZE) -> None:
    """Let ``widget``'s plots shrink to a half-width column: titles at ``size``, and a title too long for
    its plot is clipped instead of widening the plot past its view (pyqtgraph sizes a plot to its
    title). Idempotent; call again after a redraw that adds plots."""
    import pyqtgraph as pg

    for view in widget.findChildren(pg.GraphicsView):
        for item in view.scene().items():
            if not isinstance(item, pg.PlotItem) or getattr(item, "grokviz_fitted", False):
                continue
            item.grokviz_fitted = True
            item.grokviz_title_size = size  # read by figures.style_plot at every redraw
            label = item.titleLabel
            label.setFlag(label.GraphicsItemFlag.ItemClipsChildrenToShape, True)

            def update_min(label=label):  # LabelItem.updateMin, minus the minimum width
                label.setMinimumWidth(0)
                label.setMinimumHeight(label.itemRect().height())
                label.updateGeometry()

            label.updateMin = update_min
            if label.text:
                label.setText(label.text, size=size)
            else:
                update_min()


def run_name(run) -> str:
    return os.path.basename(run.path) if getattr(run, "path", None) else "unsaved run"


class RunColumn(QtWidgets.QWidget):
    """One run of the comparison: a heading, one view per name (built when first shown), its slider."""

    statusMessage = QtCore.Signal(str)
    inputRequested = QtCore.Signal(str, int, int)  # (side, a, b): a view asks to show that input in the Explorer
    hookRequested = QtCore.Signal(str, str, str, str)  # (side, hook, position, ordering): likewise for a hook

    def __init__(self, side: str, state: AppState, link: EpochLink, names=COMPARED_VIEWS, parent=None):
        super().__init__(parent)
        self.side, self.state, self.link, self.names = side, state, link, tuple(names)
        self.views: dict[str, QtWidgets.QWidget] = {}
        self.heading = QtWidgets.QLabel()
        self.heading.setObjectName("compareHeading")
        self.heading.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.heading.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.heading.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        self.stack = QtWidgets.QStackedWidget()
        for name in self.names:
            self.stack.addWidget(self._page(views.PlaceholderView(name, "Opens when shown…")))
        self.slider = CheckpointSlider(state)
        self.slider.label.hide()  # the heading says the epoch
        box = QtWidgets.QFrame()
        box.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        box_layout = QtWidgets.QVBoxLayout(box)
        box_layout.setContentsMargins(6, 2, 6, 2)
        box_layout.addWidget(self.slider)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(3)
        layout.addWidget(self.heading)
        layout.addWidget(self.stack, 1)
        layout.addWidget(box)
        state.run_changed.connect(self.update_heading)
        state.checkpoint_changed.connect(self.update_heading)
        self.update_heading()

    def update_heading(self, *_args) -> None:
        run, epoch = self.state.run, self.state.checkpoint_epoch
        color = SIDE_COLORS[self.side]
        if run is None:
            self.heading.setText(f"<b style='color:{color}'>{self.side.upper()}</b> · no run open")
            return
        fraction = self.link.fraction(self.side, epoch) if epoch is not None else None
        stage = (f" <span style='color:#666'>({100 * fraction:.0f} % of training, checkpoint "
                 f"{self.state.checkpoint_index + 1} / {len(self.state.epochs)})</span>" if fraction is not None else "")
        name, formula = html.escape(run_name(run)), html.escape(run.task.formula)
        self.heading.setText(f"<b style='color:{color}'>{self.side.upper()}</b> · <b>{name}</b> · "
                             f"{formula} · epoch <b>{epoch:,}</b>{stage}" if epoch is not None else
                             f"<b style='color:{color}'>{self.side.upper()}</b> · {name}")
        self.heading.setToolTip(run.path or "")

    @staticmethod
    def _page(widget) -> QtWidgets.QScrollArea:
        """``widget`` in a scroll area: a half-width column scrolls a view wider than it instead of
        pushing the window past the screen."""
        page = QtWidgets.QScrollArea()
        page.setWidgetResizable(True)
        page.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        page.setWidget(widget)
        return page

    def show_view(self, index: int) -> QtWidgets.QWidget:
        """Show the view at ``index`` (building it now if this is its first show)."""
        name = self.names[index]
        widget = self.views.get(name) or self._build(name)
        self.stack.setCurrentIndex(index)
        if hasattr(widget, "view_activated"):
            widget.view_activated()
        return widget

    def _build(self, name: str) -> QtWidgets.QWidget:
        page = self.stack.widget(self.names.index(name))
        try:
            factory = views.view_factory(name)
            widget = factory(self.state) if factory is not None else views.PlaceholderView(name)
        except Exception as error:  # noqa: BLE001 - a broken view must not take the comparison down
            widget = views.PlaceholderView(name, f"This view failed to load: {dialogs.user_message(error)}")
        page.takeWidget().deleteLater()
        page.setWidget(widget)
        self.views[name] = widget
        fit_plot_titles(widget)
        if isinstance(getattr(widget, "computed", None), QtCore.SignalInstance):
            widget.computed.connect(lambda w=widget: fit_plot_titles(w))
        if isinstance(getattr(widget, "statusMessage", None), QtCore.SignalInstance):
            widget.statusMessage.connect(self.statusMessage)
        if isinstance(getattr(widget, "openInputInExplorer", None), QtCore.SignalInstance):  # views.py protocol
            widget.openInputInExplorer.connect(lambda a, b: self.inputRequested.emit(self.side, a, b))
        if isinstance(getattr(widget, "openInExplorer", None), QtCore.SignalInstance):
            widget.openInExplorer.connect(
                lambda hook, position="=", ordering="[c, a]": self.hookRequested.emit(self.side, hook, position, ordering))
        return widget

    def cancel(self) -> None:
        self.slider.stop()
        for widget in self.views.values():
            if hasattr(widget, "cancel"):
                widget.cancel()


class CompareWindow(QtWidgets.QWidget):
    """Run A (``state_a``, the main window's state) and run B (``run_b``) side by side.

    ``tab_bar`` picks the view of both columns (:attr:`column_a`, :attr:`column_b`); ``link_box``
    ("One slider for both") and ``mode_combo`` (same epoch / same fraction of training) drive
    :attr:`link`. Signal ``closed()`` once the window has closed (run A untouched)."""

    closed = QtCore.Signal()

    def __init__(self, state_a: AppState, run_b, summary_b: dict | None = None, view: str | None = None,
                 parent=None):
        super().__init__(parent)
        self.setObjectName("grokvizCompareWindow")
        self.state_a = state_a
        self.state_b = AppState(self)
        self.link = EpochLink()
        self.link.set_epochs("a", state_a.epochs)
        self.link.set_epoch("a", state_a.checkpoint_epoch)

        self.link_box = QtWidgets.QCheckBox("One slider for both")
        self.link_box.setChecked(self.link.linked)
        self.link_box.setToolTip("Checked: moving either run's checkpoint moves the other to its paired epoch")
        self.mode_combo = choice_combo({mode: MODE_LABELS[mode] for mode in MODES},
                                       "How epochs are paired: the same epoch (nearest stored checkpoint), or the "
                                       "same fraction of each run's training")
        self.layout_combo = QtWidgets.QComboBox()
        for text in LAYOUTS:
            self.layout_combo.addItem(text)
        self.layout_combo.setToolTip("Side by side, or one above the other (full width for wide plots)")
        self.status = QtWidgets.QLabel("")
        self.status.setObjectName("hint")
        self.status.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        controls = QtWidgets.QHBoxLayout()
        controls.setContentsMargins(6, 4, 6, 0)
        controls.addWidget(self.link_box)
        controls.addSpacing(12)
        controls.addWidget(QtWidgets.QLabel("Pair checkpoints by"))
        controls.addWidget(self.mode_combo)
        controls.addSpacing(12)
        controls.addWidget(QtWidgets.QLabel("Runs"))
        controls.addWidget(self.layout_combo)
        controls.addSpacing(12)
        controls.addWidget(self.status, 1)

        self.tab_bar = QtWidgets.QTabBar()
        self.tab_bar.setDocumentMode(True)
        self.tab_bar.setExpanding(False)
        for name in COMPARED_VIEWS:
            self.tab_bar.addTab(name)
        self.column_a = RunColumn("a", state_a, self.link)
        self.column_b = RunColumn("b", self.state_b, self.link)
        self.splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.column_a)
        self.splitter.addWidget(self.column_b)
        self.splitter.setChildrenCollapsible(False)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        layout.addLayout(controls)
        layout.addWidget(self.tab_bar)
        layout.addWidget(self.splitter, 1)

        # wiring: the link between the two states (bound methods, disconnected from state A on close)
        self.link_box.toggled.connect(self.link.set_linked)
        self.mode_combo.currentIndexChanged.connect(lambda _i: self.link.set_mode(self.mode_combo.currentData()))
        self.link.epoch_changed.connect(self._link_moved)
        self.link.mode_changed.connect(self._refresh_headings)
        state_a.run_changed.connect(self._a_run_changed)
        state_a.checkpoint_changed.connect(self._a_moved)
        self.state_b.checkpoint_changed.connect(self._b_moved)
        for column in (self.column_a, self.column_b):
            column.statusMessage.connect(lambda text: self.status.setText(text))
            column.inputRequested.connect(lambda side, a, b: self._explorer(side, "show_input", a, b))
            column.hookRequested.connect(lambda side, *args: self._explorer(side, "show_hook", *args))
        self.tab_bar.currentChanged.connect(self.show_view)
        self.layout_combo.currentTextChanged.connect(lambda text: self.splitter.setOrientation(LAYOUTS[text]))
        for keys, slot in (("[", lambda: state_a.step_checkpoint(-1)), ("]", lambda: state_a.step_checkpoint(1)),
                           ("{", lambda: self.state_b.step_checkpoint(-1)),
                           ("}", lambda: self.state_b.step_checkpoint(1)),
                           ("P", self.column_a.slider.toggle_play)):
            QtGui.QShortcut(QtGui.QKeySequence(keys), self, slot)  # [ ] as in the main window; { } (Shift): run B

        self.set_run_b(run_b, summary_b)
        self.setWindowTitle(f"grokviz compare — {run_name(state_a.run) if state_a.run else 'A'} vs {run_name(run_b)}")
        start = COMPARED_VIEWS.index(view) if view in COMPARED_VIEWS else 0
        self.tab_bar.setCurrentIndex(start)
        self.show_view(start)

    # -- runs and checkpoints ----------------------------------------------------------------
    def set_run_b(self, run, summary: dict | None = None) -> None:
        """Compare with ``run``: opened at the partner of A's checkpoint when linked, else at its end."""
        epoch = self.link.set_epochs("b", run.epochs if run is not None else [])
        self.state_b.set_run(run, summary, epoch=epoch)
        self.link.set_epoch("b", self.state_b.checkpoint_epoch)

    def _a_run_changed(self, run) -> None:
        self.link.set_epochs("a", run.epochs if run is not None else [])

    def _a_moved(self, epoch: int) -> None:
        self.link.set_epoch("a", epoch)
        self.column_b.update_heading()

    def _b_moved(self, epoch: int) -> None:
        self.link.set_epoch("b", epoch)
        self.column_a.update_heading()

    def _link_moved(self, side: str, epoch: int) -> None:
        (self.state_a if side == "a" else self.state_b).set_checkpoint_epoch(epoch)

    def _refresh_headings(self, *_args) -> None:
        self.column_a.update_heading()
        self.column_b.update_heading()

    # -- views --------------------------------------------------------------------------------
    @property
    def current_view(self) -> str:
        return COMPARED_VIEWS[self.tab_bar.currentIndex()]

    def show_view(self, index) -> tuple:
        """Show the view ``index`` (or name) in both columns; returns the (A, B) widgets."""
        if isinstance(index, str):
            index = COMPARED_VIEWS.index(index)
        if self.tab_bar.currentIndex() != index:
            self.tab_bar.setCurrentIndex(index)  # calls back here
        return self.column_a.show_view(index), self.column_b.show_view(index)

    def _explorer(self, side: str, method: str, *args) -> None:
        """Switch both columns to the Explorer and call ``method`` on ``side``'s (a Learned cell, a Symmetry hook)."""
        explorer = self.show_view("Explorer")[SIDES.index(side)]
        if hasattr(explorer, method):
            getattr(explorer, method)(*args)

    # -- closing -------------------------------------------------------------------------------
    def closeEvent(self, event) -> None:
        for signal, slot in ((self.state_a.run_changed, self._a_run_changed),
                             (self.state_a.checkpoint_changed, self._a_moved)):
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):
                pass
        self.link.epoch_changed.disconnect(self._link_moved)
        self.column_a.cancel()
        self.column_b.cancel()
        super().closeEvent(event)
        self.closed.emit()
