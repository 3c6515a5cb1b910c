"""The grokviz main window: menus, Run panel, view tabs, status bar, background jobs.

Only Qt is imported at module level: the window is built and shown before pyqtgraph (~1 s to
import on a loaded machine) and torch. ``build_plot_views()`` then imports pyqtgraph and builds
the Training tab; ``start_engine()`` imports torch / TransformerLens / grokviz.core in a worker;
opening runs and training wait for it (requests made earlier are queued).
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from grokviz.gui import dialogs, views
from grokviz.gui.run_panel import RunPanel
from grokviz.gui.settings import AppSettings, make_settings
from grokviz.gui.state import AppState
from grokviz.gui.workers import Job, load_engine, open_run

RUN_FILE_FILTER = "Run files (*.pt *.pth *.ckpt);;All files (*)"
RUN_SUFFIXES = (".pt", ".pth", ".ckpt")


class MainWindow(QtWidgets.QMainWindow):
    """The application window. ``state`` is the shared :class:`AppState` every view follows."""

    engine_loaded = QtCore.Signal()
    run_opened = QtCore.Signal(object)
    training_started = QtCore.Signal(object)
    training_ended = QtCore.Signal(object)  # the run, or None when training failed

    def __init__(self, state: AppState | None = None, settings: QtCore.QSettings | None = None, parent=None):
        super().__init__(parent)
        self.setObjectName("grokvizMainWindow")
        self.state = state or AppState(self)
        self.settings = AppSettings(settings if settings is not None else make_settings())
        self.engine_ready = False
        self.engine_job: Job | None = None
        self.jobs: list[Job] = []
        self.training_job = None
        self.last_error: tuple[str, str] | None = None
        self._pending_opens: list[tuple] = []
        self._closing = False
        self._save_failure = ""  # the last failed save of the training run (its one-line reason)
        self.setWindowTitle("grokviz")
        self.setAcceptDrops(True)

        # views
        self.tabs = QtWidgets.QTabWidget()
        self.tabs.setDocumentMode(True)
        self.views: dict[str, QtWidgets.QWidget] = {}
        self.training_view = None  # built by build_plot_views() right after the window shows
        for name in views.VIEW_NAMES:
            widget = views.PlaceholderView(name, "Loading…")
            self.views[name] = widget
            self.tabs.addTab(widget, name)
        self.tabs.currentChanged.connect(self._tab_changed)
        self.setCentralWidget(self.tabs)

        # run panel
        self.run_panel = RunPanel(self.state)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        scroll.setWidget(self.run_panel)
        self.run_dock = QtWidgets.QDockWidget("Run", self)
        self.run_dock.setObjectName("runDock")
        self.run_dock.setWidget(scroll)
        self.run_dock.setFeatures(QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable |
                                  QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetClosable |
                                  QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.run_dock.setMinimumWidth(350)
        self.addDockWidget(QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, self.run_dock)

        # status bar
        status = self.statusBar()
        self.status_progress = QtWidgets.QProgressBar()
        self.status_progress.setMaximumWidth(220)
        self.status_progress.setMaximumHeight(16)
        self.status_progress.setTextVisible(False)
        self.status_progress.setVisible(False)
        self.status_cancel = QtWidgets.QToolButton()
        self.status_cancel.setText("Cancel")
        self.status_cancel.setAutoRaise(True)
        self.status_cancel.setVisible(False)
        self.status_cancel.clicked.connect(self._cancel_status_job)
        self.status_label = QtWidgets.QLabel("")
        status.addPermanentWidget(self.status_label)
        status.addPermanentWidget(self.status_progress)
        status.addPermanentWidget(self.status_cancel)
        self._status_job: Job | None = None

        self._build_actions()
        self._build_menus()
        self.compare_window = None  # File › Compare with… (grokviz.gui.compare.window)
        self.state.run_changed.connect(self._run_changed)
        self._set_engine_actions(False)
        self.compare_action.setEnabled(False)
        self.continue_action.setEnabled(False)
        if not self.settings.restore_window(self):
            self.resize(1360, 860)
        views.track_window(self)

    # == actions and menus =========================================================================
    def _action(self, text, slot=None, shortcut=None, tip=None, checkable=False):
        action = QtGui.QAction(text, self)
        if shortcut:
            action.setShortcut(QtGui.QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.setCheckable(checkable)
        if slot is not None:
            action.triggered.connect(lambda checked=False: slot())
        self.addAction(action)
        return action

    def _build_actions(self):
        Std = QtGui.QKeySequence.StandardKey
        self.new_action = self._action("&New training run…", self.new_training_run, "Ctrl+N", "Train a new model")
        self.continue_action = self._action("&Continue training…", self.continue_training, None,
                                            "Train the open (cancelled or unfinished) run further, in its file")
        self.open_action = self._action("&Open…", self.open_dialog, Std.Open, "Open a run file")
        self.sweep_action = self._action("Open s&weep directory…", self.open_sweep_dialog, "Ctrl+Shift+O",
                                         "Show a sweep's grokking heat map (updates live while it runs)")
        self.compare_action = self._action("Compare &with…", self.compare_dialog, "Ctrl+Shift+C",
                                           "Open a second run beside the open one (e.g. m = n against m ≠ n)")
        self.import_action = self._action("&Import/Convert…", self.import_dialog, "Ctrl+I",
                                          "Open a TransformerLens or Nanda checkpoint and save it as a grokviz run")
        self.export_view_action = self._action("&Export current view…", self.export_current_view, "Ctrl+E")
        self.export_set_action = self._action("Export &figure set…", self.export_figure_set, "Ctrl+Shift+E")
        self.save_as_action = self._action("&Save run as…", self.save_as_dialog, Std.SaveAs,
                                           "Write the open run to another file (e.g. after a failed save)")
        self.close_run_action = self._action("&Close run", self.close_run, "Ctrl+W")
        self.quit_action = self._action("&Quit", self.close, Std.Quit)
        self.quit_action.setMenuRole(QtGui.QAction.MenuRole.QuitRole)
        self.prev_action = self._action("&Previous checkpoint", lambda: self.state.step_checkpoint(-1), "[")
        self.next_action = self._action("&Next checkpoint", lambda: self.state.step_checkpoint(1), "]")
        self.first_action = self._action("&First checkpoint", lambda: self.state.set_checkpoint_index(0), "Ctrl+[")
        self.last_action = self._action("&Last checkpoint",
                                        lambda: self.state.set_checkpoint_index(len(self.state.epochs) - 1), "Ctrl+]")
        self.play_action = self._action("P&lay / pause checkpoints", lambda: self.run_panel.checkpoints.toggle_play(), "P")
        self.tab_actions = []
        for index, name in enumerate(views.VIEW_NAMES):
            shortcut = f"Ctrl+{index + 1}" if index < 9 else None  # Ctrl+1 … Ctrl+9; "Ctrl+10" is no key
            action = self._action(f"{name}", lambda i=index: self.tabs.setCurrentIndex(i), shortcut)
            self.tab_actions.append(action)
        self.about_action = self._action("&About grokviz", self.show_about)
        self.shortcuts_action = self._action("&Keyboard shortcuts", self.show_shortcuts, "F1")

    def _build_menus(self):
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.new_action)
        file_menu.addAction(self.continue_action)
        file_menu.addSeparator()
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self._fill_recent_menu()
        file_menu.addAction(self.compare_action)
        file_menu.addAction(self.sweep_action)
        file_menu.addAction(self.import_action)
        file_menu.addSeparator()
        file_menu.addAction(self.export_view_action)
        file_menu.addAction(self.export_set_action)
        file_menu.addSeparator()
        file_menu.addAction(self.save_as_action)
        file_menu.addAction(self.close_run_action)
        file_menu.addAction(self.quit_action)
        view_menu = bar.addMenu("&View")
        panel_action = self.run_dock.toggleViewAction()
        panel_action.setText("Run &panel")
        view_menu.addAction(panel_action)
        view_menu.addSeparator()
        for action in self.tab_actions:
            view_menu.addAction(action)
        view_menu.addSeparator()
        for action in (self.first_action, self.prev_action, self.next_action, self.last_action, self.play_action):
            view_menu.addAction(action)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.shortcuts_action)
        help_menu.addAction(self.about_action)

    def _fill_recent_menu(self):
        self.recent_menu.clear()
        files = self.settings.recent_files()
        for index, path in enumerate(files):
            action = self.recent_menu.addAction(f"&{index + 1}  {Path(path).name}  —  {Path(path).parent}")
            action.setToolTip(path)
            action.triggered.connect(lambda checked=False, p=path: self.open_file(p))
        if files:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", self._clear_recent)
        else:
            empty = self.recent_menu.addAction("No recent runs")
            empty.setEnabled(False)

    def _clear_recent(self):
        self.settings.clear_recent_files()
        self._fill_recent_menu()

    def _set_engine_actions(self, enabled: bool):
        for action in (self.new_action, self.import_action):
            action.setEnabled(enabled)

    # == views =====================================================================================
    def view(self, name: str) -> QtWidgets.QWidget:
        return self.views[name]

    def set_view(self, name: str, widget: QtWidgets.QWidget) -> QtWidgets.QWidget:
        """Install ``widget`` as the tab ``name`` (replacing the placeholder) and give it the state."""
        if name not in self.views:
            self.views[name] = widget
            self.tabs.addTab(widget, name)
        else:
            old = self.views[name]
            index = self.tabs.indexOf(old)
            current = self.tabs.currentIndex() == index
            self.tabs.removeTab(index)
            self.tabs.insertTab(index, widget, name)
            if current:
                self.tabs.setCurrentIndex(index)
            if old is not widget:
                old.deleteLater()
            self.views[name] = widget
        if getattr(widget, "state", None) is not self.state and hasattr(widget, "set_app_state"):
            widget.set_app_state(self.state)
        # optional cross-view signals (duck-typed, see grokviz.gui.views)
        if isinstance(getattr(widget, "statusMessage", None), QtCore.SignalInstance):
            widget.statusMessage.connect(lambda text: self.statusBar().showMessage(text, 5000))
        if isinstance(getattr(widget, "openInExplorer", None), QtCore.SignalInstance):
            widget.openInExplorer.connect(self.show_in_explorer)
        if isinstance(getattr(widget, "openInputInExplorer", None), QtCore.SignalInstance):
            widget.openInputInExplorer.connect(self.show_input_in_explorer)
        return widget

    def show_in_explorer(self, hook: str, position: str = "=", ordering: str = "[c, a]"):
        """Switch to the Explorer tab and ask it to show ``hook`` (if it has ``show_hook``)."""
        explorer = self.views.get("Explorer")
        if explorer is None:
            return
        self.tabs.setCurrentWidget(explorer)
        if hasattr(explorer, "show_hook"):
            explorer.show_hook(hook, position, ordering)

    def show_input_in_explorer(self, a: int, b: int):
        """Switch to the Explorer tab and show the input (a, b) there (if it has ``show_input``)."""
        explorer = self.views.get("Explorer")
        if explorer is None:
            return
        self.tabs.setCurrentWidget(explorer)
        if hasattr(explorer, "show_input"):
            explorer.show_input(a, b)
            self.statusBar().showMessage(f"Explorer: the input a = {a}, b = {b} (sliders a and b)", 5000)

    def install_view(self, name: str) -> bool:
        """Build the view ``name`` from its factory (see :mod:`grokviz.gui.views`); False if none."""
        try:
            factory = views.view_factory(name)
            if factory is None:
                placeholder = self.views.get(name)
                if isinstance(placeholder, views.PlaceholderView):
                    placeholder.set_message("This view is not available in this build yet.")
                return False
            widget = factory(self.state)
        except Exception as error:  # noqa: BLE001 - a broken view must not take the app down
            placeholder = views.PlaceholderView(name, f"This view failed to load: {dialogs.user_message(error)}")
            placeholder.setToolTip(dialogs.format_details(error))
            self.set_view(name, placeholder)
            return False
        self.set_view(name, widget)
        return True

    def install_views(self):
        for name in views.VIEW_NAMES:
            if name != "Training" and isinstance(self.views.get(name), views.PlaceholderView):
                self.install_view(name)

    def _tab_changed(self, index: int):
        widget = self.tabs.widget(index)
        if hasattr(widget, "view_activated"):
            try:
                widget.view_activated()
            except Exception as error:  # noqa: BLE001
                self.report_error(dialogs.user_message(error), dialogs.format_details(error))

    def build_plot_views(self):
        """Import pyqtgraph and build the Training tab (idempotent; GUI thread)."""
        if self.training_view is not None:
            return self.training_view
        from grokviz.gui.appearance import configure_plots

        configure_plots()
        from grokviz.gui.training import TrainingView

        view = TrainingView()
        view.pause_requested.connect(self.pause_training)
        view.resume_requested.connect(self.resume_training)
        view.cancel_requested.connect(self.cancel_training)
        self.training_view = view
        self.set_view("Training", view)
        return view

    # == engine ====================================================================================
    def start_engine(self, then_open: str | None = None):
        """Build the plots, import torch & co. in a worker; then install the views and open ``then_open``."""
        self.build_plot_views()
        if then_open:
            self._pending_opens.append((str(then_open), None))
        if self.engine_ready or self.engine_job is not None:
            return
        job = Job(load_engine, "Loading engine")
        job.succeeded.connect(lambda _result: self._engine_loaded())
        job.failed.connect(lambda message, details: self.report_error(f"Could not load the engine: {message}", details))
        self.engine_job = job
        self._run_job(job, "Loading engine…")

    def load_engine_now(self):
        """Synchronous variant (tests and benchmarks): import in this thread and finish set-up."""
        self.build_plot_views()
        load_engine(type("Context", (), {"report": staticmethod(lambda *a: None), "cancelled": False})())
        self._engine_loaded()

    def _engine_loaded(self):
        if self.engine_ready:
            return
        self.engine_ready = True
        self._set_engine_actions(True)
        try:
            self.training_view.install_export_menus()
        except Exception as error:  # noqa: BLE001 - plots work without their export menu
            self.statusBar().showMessage(f"Export menus unavailable: {dialogs.user_message(error)}", 5000)
        self.install_views()
        self.statusBar().showMessage("Ready", 3000)
        self.engine_loaded.emit()
        pending, self._pending_opens = self._pending_opens, []
        for path, task in pending:
            self.open_file(path, task)

    # == jobs and status bar =======================================================================
    def _run_job(self, job: Job, text: str, cancellable: bool = False) -> Job:
        self.jobs.append(job)
        self._status_job = job
        self.status_label.setText(text)
        self.status_progress.setRange(0, 0)
        self.status_progress.setVisible(True)
        self.status_cancel.setVisible(cancellable)
        job.progress.connect(lambda fraction, message, j=job: self._job_progress(j, fraction, message))
        job.done.connect(lambda j=job: self._job_done(j))
        job.start()
        return job

    def _job_progress(self, job, fraction: float, message: str):
        if job is not self._status_job:
            return
        if message:
            self.status_label.setText(message)
        if fraction < 0:
            self.status_progress.setRange(0, 0)
        else:
            self.status_progress.setRange(0, 100)
            self.status_progress.setValue(int(fraction * 100))

    def _job_done(self, job):
        """``job`` has ended (the runner owns its lifetime: nothing to wait for or delete)."""
        if job in self.jobs:
            self.jobs.remove(job)
        if job is self.engine_job:
            self.engine_job = None
        if job is self._status_job:
            self._status_job = None
            self.status_label.setText("")
            self.status_progress.setVisible(False)
            self.status_cancel.setVisible(False)

    def _cancel_status_job(self):
        job = self._status_job
        if job is not None:
            job.cancel()
            self.statusBar().showMessage("Cancelled", 3000)
            self._job_done_ui_only(job)

    def _job_done_ui_only(self, job):
        if job is self._status_job:
            self._status_job = None
        self.status_label.setText("")
        self.status_progress.setVisible(False)
        self.status_cancel.setVisible(False)

    def wait_for_jobs(self, timeout_ms: int = 30_000) -> bool:
        """Block until every background job of the app has returned and its end is delivered."""
        from grokviz.gui.workers import job_runner

        return job_runner().wait_all(timeout_ms)

    # == errors ====================================================================================
    def report_error(self, message: str, details: str = ""):
        """One-line message with expandable details; the app keeps running."""
        self.last_error = (message, details)
        self.statusBar().showMessage(message, 10_000)
        dialogs.show_error(self, message, details)

    # == opening runs ==============================================================================
    def open_dialog(self):
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open run", self.settings.last_directory(), RUN_FILE_FILTER)
        if path:
            self.open_file(path)

    def open_sweep_dialog(self):
        directory = QtWidgets.QFileDialog.getExistingDirectory(self, "Open sweep directory",
                                                               self.settings.last_directory())
        if directory:
            self.open_sweep(directory)

    def open_sweep(self, directory):
        """A window with the sweep's heat map and table; double-clicking a cell opens its run here."""
        from grokviz.gui.sweep_view import SweepView

        try:
            view = SweepView(directory)
        except Exception as error:  # noqa: BLE001 - a bad directory is reported, the app keeps running
            self.report_error(f"Cannot open sweep {directory}: {dialogs.user_message(error)}",
                              dialogs.format_details(error))
            return None
        view.setWindowTitle(f"grokviz sweep — {Path(directory).name}")
        view.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        view.setWindowFlag(QtCore.Qt.WindowType.Window)
        view.setParent(self, QtCore.Qt.WindowType.Window)
        view.run_requested.connect(self.open_file)
        view.resize(1100, 750)
        view.show()
        self.settings.set_last_directory(str(Path(directory).resolve().parent))
        return view

    def open_file(self, path, task=None) -> Job | None:
        """Load ``path`` in a worker (with progress and cancel) and show it in every view."""
        from grokviz.gui.new_run_dialog import inside_package

        path = str(path)
        if not inside_package(Path(path).resolve().parent):  # the bundled example is no user directory
            self.settings.set_last_directory(str(Path(path).resolve().parent))
        if not self.engine_ready:
            self._pending_opens.append((path, task))
            self.status_label.setText(f"{Path(path).name} opens once the engine has loaded…")
            if self.engine_job is None:
                self.start_engine()
            return None
        job = Job(open_run(path, task), f"Opening {path}")
        job.succeeded.connect(lambda result, p=path: self._opened(p, result))
        job.failed.connect(lambda message, details, p=path, j=job: self._open_failed(p, message, details, j.error))
        return self._run_job(job, f"Opening {Path(path).name}…", cancellable=True)

    def _opened(self, path, result):
        if result is None:
            return
        run, summary = result
        self.settings.add_recent_file(path)
        self.set_run(run, summary)
        self.statusBar().showMessage(f"Opened {path}", 5000)

    def _open_failed(self, path, message, details, error=None, retry=None):
        from grokviz.core.errors import TaskInferenceError

        if isinstance(error, TaskInferenceError):  # ask for the task instead of failing
            spec = self.ask_task(path, error.best, error.accuracy)
            if spec:
                (retry or self.open_file)(path, spec)
            return
        self.report_error(message, details)

    # == comparing two runs ========================================================================
    def compare_dialog(self):
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Compare with run", self.settings.last_directory(),
                                                        RUN_FILE_FILTER)
        if path:
            self.compare_with(path)

    def compare_with(self, path, task=None) -> Job | None:
        """Load ``path`` as File › Open does and show it beside the open run (grokviz.gui.compare)."""
        path = str(path)
        if self.state.run is None:
            self.report_error("Open a run first: Compare with… shows a second run beside the open one.")
            return None
        if not self.engine_ready:
            self.report_error("The engine is still loading; try again in a moment.")
            return None
        job = Job(open_run(path, task), f"Opening {path}")
        job.succeeded.connect(lambda result, p=path: self._compare_opened(p, result))
        job.failed.connect(lambda message, details, p=path, j=job: self._open_failed(p, message, details, j.error,
                                                                                    retry=self.compare_with))
        return self._run_job(job, f"Opening {Path(path).name} to compare…", cancellable=True)

    def _compare_opened(self, path, result):
        if result is None or self.state.run is None:
            return
        from grokviz.gui.compare.window import CompareWindow

        run, summary = result
        self.settings.add_recent_file(path)
        if self.compare_window is not None:
            self.compare_window.close()
        current = self.tabs.tabText(self.tabs.currentIndex())
        window = CompareWindow(self.state, run, summary, view=current, parent=self)
        window.setWindowFlag(QtCore.Qt.WindowType.Window)
        window.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        window.closed.connect(lambda w=window: self._compare_closed(w))
        screen = (self.screen() or QtGui.QGuiApplication.primaryScreen()).availableGeometry()
        window.resize(min(max(self.width(), 1400), screen.width()), min(max(self.height(), 860), screen.height()))
        window.show()
        self.compare_window = window
        self.statusBar().showMessage(f"Comparing with {path}", 5000)

    def _compare_closed(self, window):
        if self.compare_window is window:
            self.compare_window = None

    def ask_task(self, path, best: str | None, accuracy: float) -> str | None:
        """The task dialog for a file whose task cannot be inferred, pre-filled with the best
        candidate; the spec entered, or None (cancelled)."""
        guess = (f"The best candidate, {best}, explains only {accuracy * 100:.1f} % of the training labels."
                 if best else "No candidate task explains its training labels.")
        spec, ok = QtWidgets.QInputDialog.getText(
            self, "Which task?", f"grokviz cannot tell which task {Path(path).name} was trained on.\n{guess}\n\n"
                                 "Task (add, sub, mul, div, pow:m=4,n=3):", text=best or "")
        return spec.strip() or None if ok else None

    def set_run(self, run, summary: dict | None = None):
        self.state.set_run(run, summary)
        self.run_opened.emit(run)

    def close_run(self):
        self.state.set_run(None)

    def _run_changed(self, run):
        self.continue_action.setEnabled(self.can_continue(run))
        self.compare_action.setEnabled(run is not None)
        if run is None:
            self.setWindowTitle("grokviz")
        else:
            name = Path(run.path).name if run.path else "unsaved run"
            self.setWindowTitle(f"{name} — {run.task.formula} — grokviz")

    # == import / convert ==========================================================================
    def import_dialog(self):
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Import a checkpoint (TransformerLens demo, Nanda full_run_data, grokviz)",
            self.settings.last_directory(), RUN_FILE_FILTER)
        if not path:
            return
        spec, ok = QtWidgets.QInputDialog.getText(
            self, "Task", "Task of this checkpoint (add, sub, mul, div, pow:m=4,n=3).\n"
                          "Leave empty to infer it from the model's predictions:")
        if not ok:
            return
        job = self.open_file(path, spec.strip() or None)
        if job is not None:
            job.succeeded.connect(lambda result: self._offer_save_converted(path, result))

    def _offer_save_converted(self, path, result):
        if result is None:
            return
        run = result[0]
        if run.source_format == "grokviz":
            return
        suggested = str(Path(path).with_suffix("")) + "_grokviz.pt"
        out, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save as grokviz run", suggested, "grokviz run (*.pt)")
        if out:
            self.save_run_as(run, out)

    def save_as_dialog(self):
        run = self.state.run
        if run is None:
            self.statusBar().showMessage("No run open to save", 5000)
            return
        suggested = str(Path(run.path).with_suffix("")) + "_copy.pt" if run.path else self.settings.last_directory()
        out, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save run as", suggested, "grokviz run (*.pt)")
        if out:
            self.save_run_as(run, out)

    def save_run_as(self, run, out) -> Job:
        def function(context):
            from grokviz.analysis.reports.checkpoint_accuracy import keep_for_saving
            from grokviz.analysis.session import session_of
            from grokviz.core.runfile import save_run

            keep_for_saving(session_of(run), on_progress=context.report)  # a losses-only run's points, stored with it
            context.report(-1, f"Saving {out}…")
            save_run(run, out)
            return out

        job = Job(function, "Saving")
        job.succeeded.connect(lambda saved: (self.settings.add_recent_file(saved),
                                             self.statusBar().showMessage(f"Saved {saved}", 5000)))
        job.failed.connect(self.report_error)
        return self._run_job(job, "Saving…")

    # == export ====================================================================================
    def export_current_view(self):
        widget = self.tabs.currentWidget()
        if hasattr(widget, "export_view"):
            return widget.export_view(self)
        name = self.tabs.tabText(self.tabs.currentIndex()).lower()
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export current view",
                                                        os.path.join(self.settings.last_directory(), f"{name}.png"),
                                                        "PNG image (*.png);;SVG image (*.svg)")
        if not path:
            return None
        return self._export_widget(widget, path)

    def _export_widget(self, widget, path):
        try:
            from grokviz.gui import export

            if path.lower().endswith(".svg"):
                return export.export_svg(widget, path)
            if not path.lower().endswith(".png"):
                path += ".png"
            return export.export_png(widget, path)
        except Exception as error:  # noqa: BLE001
            self.report_error(f"Export failed: {dialogs.user_message(error)}", dialogs.format_details(error))
            return None

    def export_figure_set(self, directory: str | None = None) -> list:
        if directory is None:
            directory = QtWidgets.QFileDialog.getExistingDirectory(self, "Export figure set into",
                                                                   self.settings.last_directory())
        if not directory:
            return []
        written = []
        for name, widget in self.views.items():
            if isinstance(widget, views.PlaceholderView):
                continue
            try:
                if hasattr(widget, "export_figures"):
                    written += list(widget.export_figures(directory))
                else:
                    result = self._export_widget(widget, os.path.join(directory, f"{name.lower()}.png"))
                    if result:
                        written.append(result)
            except Exception as error:  # noqa: BLE001
                self.report_error(f"Export of {name} failed: {dialogs.user_message(error)}", dialogs.format_details(error))
        self.statusBar().showMessage(f"Exported {len(written)} files to {directory}", 5000)
        return written

    # == training ==================================================================================
    @property
    def training(self) -> bool:
        return self.training_job is not None and self.training_job.isRunning()

    def new_training_run(self):
        if not self.engine_ready:
            return None
        if self.training:
            self.report_error("A training run is already in progress; cancel it first.")
            return None
        from grokviz.gui.new_run_dialog import NewRunDialog

        from grokviz.gui.new_run_dialog import default_output_directory

        dialog = NewRunDialog(self, directory=default_output_directory(self.settings))
        if dialog.exec() != QtWidgets.QDialog.DialogCode.Accepted:
            return None
        return self.start_training(*dialog.values())

    @staticmethod
    def can_continue(run) -> bool:
        return (run is not None and run.source_format == "grokviz" and run.resume_state is not None
                and bool(run.path) and Path(run.path).is_file())

    def continue_training(self, epochs: int | None = None):
        """Train the open run further (it must store its optimiser state), saving into its file."""
        run = self.state.run
        if not self.can_continue(run) or self.training:
            return None
        if epochs is None:
            default = max(run.train_config.epochs, run.epochs_trained + 1)
            if run.epochs_trained >= run.train_config.epochs:
                default = run.epochs_trained + 10_000
            epochs, ok = QtWidgets.QInputDialog.getInt(
                self, "Continue training", f"{Path(run.path).name} has {run.epochs_trained:,} epochs.\n"
                                           "Train until epoch:", default, run.epochs_trained + 1, 10_000_000)
            if not ok:
                return None
        config = type(run.train_config).from_dict({**run.train_config.to_dict(), "epochs": int(epochs)})
        return self.start_training(run.task, run.split, run.model_config, config, run.path, resume_from=run.path)

    def start_training(self, task, split, model_config, train_config, out_path, threads: int | None = None,
                       resume_from: str | None = None, live_progress: bool = True):
        """Train in a child process (:mod:`grokviz.training_process`); the Training and Progress
        tabs and the Run panel show it live; the run opens when it ends."""
        from grokviz.gui.training import TrainingJob

        self.build_plot_views()
        if self.training:
            raise RuntimeError("a training run is already in progress")
        job = TrainingJob(task, split, model_config, train_config, out_path, threads=threads,
                          resume_from=resume_from, live_progress=live_progress)
        self.training_job = job
        job.finished_run.connect(self._training_finished)
        job.failed.connect(self._training_failed)
        job.save_problem.connect(self._training_save_problem)
        job.unsaved.connect(lambda message, j=job: self._training_unsaved(j, message))
        job.done.connect(self._training_done)
        self.training_view.attach_job(job, f"Training {task.formula}  →  {out_path}")
        self.run_panel.show_training(job)
        progress_view = self.views.get("Progress")
        if hasattr(progress_view, "attach_job"):
            progress_view.attach_job(job)
        self.tabs.setCurrentWidget(self.training_view)
        self.status_label.setText(f"Training {task.formula}…")
        from grokviz.gui.new_run_dialog import remember_output_directory

        remember_output_directory(self.settings, Path(out_path).resolve().parent)
        job.start()
        self.training_started.emit(job)
        return job

    def pause_training(self):
        if self.training_job is not None:
            self.training_job.pause()
            self.status_label.setText("Training paused")

    def resume_training(self):
        if self.training_job is not None:
            self.training_job.resume()
            self.status_label.setText("Training…")

    def cancel_training(self):
        if self.training_job is not None:
            self.training_job.cancel()
            self.status_label.setText("Cancelling training (saving)…")

    def _detach_training(self):
        self.training_view.detach_job()
        self.run_panel.show_training(None)
        progress_view = self.views.get("Progress")
        if hasattr(progress_view, "detach_job"):
            progress_view.detach_job()

    def _training_finished(self, run, summary):
        self._detach_training()
        self.settings.add_recent_file(run.path)
        if not self._closing:
            self.set_run(run, summary)
        self.statusBar().showMessage(f"Training {run.status}: {run.epochs_trained:,} epochs saved to {run.path}", 10_000)
        self.training_ended.emit(run)

    def _training_failed(self, message, details):
        job = self.training_job
        out = job.out_path if job is not None else ""
        self._detach_training()
        saved = job.last_saved_epoch if job is not None else None
        note = (f" Everything up to epoch {saved:,} is saved in {out}." if saved is not None and Path(out).exists()
                else f" The last saved state is in {out}." if out and Path(out).exists() else "")
        self.training_ended.emit(None)
        if not self._closing:
            self.report_error(f"Training failed: {message}{note}", details)

    def _training_save_problem(self, line: str):
        """A save of the training run failed, or moved to a fallback file (core.fallback_save)."""
        if line.startswith("saved the run to"):
            self.report_error(f"{self._save_failure or 'Saving failed'}; {line}. "
                              "File › Save run as… writes it elsewhere once training ends.")
        else:
            self._save_failure = line
            self.statusBar().showMessage(f"Saving the run failed: {line}", 10_000)

    def _training_unsaved(self, job, message: str):
        """Training ended and nothing could be saved: the run waits in the training process
        until it is saved where the user says, or given up."""
        while True:
            out, _ = QtWidgets.QFileDialog.getSaveFileName(
                self, f"The run could not be saved ({message[:120]}). Save it as", self.settings.last_directory(),
                "grokviz run (*.pt)")
            if out:
                job.save_as(out)
                return
            answer = QtWidgets.QMessageBox.question(
                self, "Discard the trained run?", "The run is not saved anywhere. Discard it?",
                QtWidgets.QMessageBox.StandardButton.Discard | QtWidgets.QMessageBox.StandardButton.Cancel)
            if answer == QtWidgets.QMessageBox.StandardButton.Discard:
                job.discard()
                return

    def _training_done(self):
        job = self.training_job
        if job is not None:
            job.deleteLater()
        self.training_job = None
        if not self._status_job:
            self.status_label.setText("")

    # == drag and drop =============================================================================
    @staticmethod
    def _dropped_files(mime: QtCore.QMimeData) -> list[str]:
        if not mime.hasUrls():
            return []
        return [url.toLocalFile() for url in mime.urls() if url.isLocalFile() and url.toLocalFile()]

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent):
        if self._dropped_files(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event):
        if self._dropped_files(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QtGui.QDropEvent):
        files = self._dropped_files(event.mimeData())
        if not files:
            event.ignore()
            return
        event.acceptProposedAction()
        self.open_file(files[0])

    # == help ======================================================================================
    def show_about(self):
        import sys

        import pyqtgraph
        import PySide6

        import grokviz

        torch = sys.modules.get("torch")
        QtWidgets.QMessageBox.about(
            self, "About grokviz",
            f"<h3>grokviz {grokviz.__version__}</h3>"
            "<p>Train, load and explore small transformers that grok modular arithmetic.</p>"
            f"<p style='color:#555'>PySide6 {PySide6.__version__} · pyqtgraph {pyqtgraph.__version__}"
            f"{' · torch ' + torch.__version__ if torch else ''} · Python {sys.version.split()[0]}</p>")

    def shortcut_rows(self) -> list[tuple[str, str]]:
        rows = []
        for action in self.actions():
            if not action.shortcut().isEmpty():
                rows.append((action.text().replace("&", "").rstrip("…"),
                             action.shortcut().toString(QtGui.QKeySequence.SequenceFormat.NativeText)))
        return rows

    def show_shortcuts(self):
        dialog = QtWidgets.QDialog(self)
        dialog.setWindowTitle("Keyboard shortcuts")
        table = QtWidgets.QTableWidget(0, 2)
        table.setHorizontalHeaderLabels(["Action", "Shortcut"])
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        for action, keys in self.shortcut_rows():
            row = table.rowCount()
            table.insertRow(row)
            table.setItem(row, 0, QtWidgets.QTableWidgetItem(action))
            table.setItem(row, 1, QtWidgets.QTableWidgetItem(keys))
        table.horizontalHeader().setStretchLastSection(True)
        table.resizeColumnsToContents()
        layout = QtWidgets.QVBoxLayout(dialog)
        layout.addWidget(table)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.reject)
        layout.addWidget(buttons)
        dialog.resize(420, 480)
        dialog.exec()

    # == closing ===================================================================================
    def closeEvent(self, event: QtGui.QCloseEvent):
        if self.training:
            if not dialogs.ask_yes_no(self, "Training in progress",
                                      "A training run is in progress. Stop it and quit?\n"
                                      "The run is saved up to the current epoch."):
                event.ignore()
                return
            self._closing = True
            self.status_label.setText("Stopping training and saving…")
            QtWidgets.QApplication.setOverrideCursor(QtCore.Qt.CursorShape.WaitCursor)
            try:
                self.stop_training_and_wait(load_result=False)
            finally:
                QtWidgets.QApplication.restoreOverrideCursor()
        self._closing = True
        from grokviz.gui.workers import job_runner

        job_runner().cancel_all()  # every job of the app: tabs' and the Explorer's too
        self.wait_for_jobs()
        self.settings.save_window(self)
        self.settings.sync()
        event.accept()
        super().closeEvent(event)

    def stop_training_and_wait(self, timeout_ms: int = 60_000, load_result: bool = True) -> bool:
        """Cancel training and wait until the child has saved and exited (and, with
        ``load_result``, the run has been read back and opened)."""
        job = self.training_job
        if job is None:
            return True
        job.load_result = load_result
        job.cancel()
        finished = job.wait(timeout_ms)
        QtCore.QCoreApplication.sendPostedEvents()
        QtWidgets.QApplication.processEvents()
        return finished
