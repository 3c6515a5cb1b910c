"""``grokviz`` / ``grokviz gui RUN`` / ``grokviz-gui``: show the window first, load the engine after.

Content first (issue 17): before the window is shown, the run's history and facts are read
straight from its file without torch (:mod:`grokviz.core.quickread`, ~50 ms) and drawn by a
QPainter sketch of the curves (:mod:`grokviz.gui.history_sketch`) and the Run panel, so the
window's first paint already has them (torch takes ~1–2 s to import, pyqtgraph 0.3–1 s). After
that paint pyqtgraph's Training tab replaces the sketch, then torch, TransformerLens and
grokviz.core are imported in a worker thread (status-bar progress) and the run (argument, else the
bundled example) loads with its weights in another worker.

``GROKVIZ_EXIT_AFTER_SHOW=1`` makes the app print ``grokviz-window-visible <unix time>
<seconds since process start>`` at the first paint of the window and quit (``grokviz bench gui``);
``GROKVIZ_EXIT_AFTER_CONTENT=1`` prints ``grokviz-content-visible …`` once the run's loss curves
have been painted, and quits.
"""

from __future__ import annotations

import os
import sys
import time

from grokviz.gui.appearance import configure_application

EXIT_AFTER_SHOW_ENV = "GROKVIZ_EXIT_AFTER_SHOW"
VISIBLE_MARKER = "grokviz-window-visible"
EXIT_AFTER_CONTENT_ENV = "GROKVIZ_EXIT_AFTER_CONTENT"
CONTENT_MARKER = "grokviz-content-visible"

def process_start_time() -> float | None:
    """Unix time at which this process started (Linux /proc; 10 ms resolution), else None."""
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return time.time() - (uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def default_run_path() -> str | None:
    """The bundled example run, when it is installed."""
    try:
        from grokviz.core.example import example_path

        path = example_path()
        return str(path) if path.is_file() else None
    except Exception:  # noqa: BLE001 - no example is not an error
        return None


class _FirstPaint:
    """Records when the window is first painted (and optionally quits, for the benchmark)."""

    def __init__(self, window, started: float | None, exit_after: bool, then=None):
        from PySide6 import QtCore

        self.window, self.started, self.exit_after, self.then = window, started, exit_after, then
        self.visible_at: float | None = None

        class Filter(QtCore.QObject):
            def eventFilter(inner, obj, event):  # noqa: N805
                if self.visible_at is None and event.type() == QtCore.QEvent.Type.Paint:
                    self.visible_at = time.time()
                    QtCore.QTimer.singleShot(0, self._report)
                return False

        self.filter = Filter(window)
        window.installEventFilter(self.filter)

    def _report(self):
        from PySide6 import QtWidgets

        self.window.removeEventFilter(self.filter)
        since = self.visible_at - self.started if self.started else float("nan")
        self.window.window_visible_seconds = since
        if self.exit_after:
            heavy = int(any(name in sys.modules for name in ("torch", "transformer_lens", "grokviz.core.runfile")))
            print(f"{VISIBLE_MARKER} {self.visible_at:.6f} {since:.3f} heavy_imports={heavy}", flush=True)
            QtWidgets.QApplication.instance().quit()
            return
        if os.environ.get("GROKVIZ_TIMING"):
            print(f"grokviz: window visible {since:.2f} s after start", file=sys.stderr)
        if self.then is not None:
            from PySide6 import QtCore

            QtCore.QTimer.singleShot(0, self.then)


def show_preview(window, path):
    """Content first (issue 17): the run's curves and facts straight from the file, before torch
    and pyqtgraph (a QPainter sketch, :mod:`grokviz.gui.history_sketch`, until the plots load)."""
    from grokviz.core.quickread import read_preview

    preview = read_preview(path)
    if preview is not None:
        from grokviz.gui.history_sketch import HistorySketch

        if window.training_view is None:
            window.set_view("Training", HistorySketch(preview))
        else:
            window.training_view.show_preview(preview)
        window.run_panel.show_preview(preview)
        window.status_label.setText("Loading the engine (weights and analysis follow)…")
    return preview


def _report_content(window, started, preview) -> None:
    """``GROKVIZ_EXIT_AFTER_CONTENT``: print when the loss curves have been painted, then quit."""
    from PySide6 import QtCore, QtWidgets

    plot = window.training_view.loss_plot.viewport() if window.training_view is not None else window.views["Training"]
    state = {"done": False}

    class Filter(QtCore.QObject):
        def eventFilter(self, obj, event):  # noqa: N802
            if not state["done"] and event.type() == QtCore.QEvent.Type.Paint:
                state["done"] = True
                QtCore.QTimer.singleShot(0, finish)
            return False

    def finish():
        now = time.time()
        since = now - started if started else float("nan")
        drawn = int(preview is not None and len(preview.history) > 0)
        heavy = int("torch" in sys.modules)
        print(f"{CONTENT_MARKER} {now:.6f} {since:.3f} curves={drawn} heavy_imports={heavy}", flush=True)
        QtWidgets.QApplication.instance().quit()

    watcher = Filter(plot)
    plot.installEventFilter(watcher)
    window._content_watcher = watcher


def main(argv=None) -> int:
    started = process_start_time()
    argv = list(sys.argv[1:] if argv is None else argv)
    import argparse

    parser = argparse.ArgumentParser(prog="grokviz gui", description="the grokviz desktop app")
    parser.add_argument("run", nargs="?", help="run file to open (default: the bundled example)")
    parser.add_argument("--settings", help="settings file (INI) instead of the user's")
    parser.add_argument("--no-example", action="store_true", help="start without opening the example run")
    args = parser.parse_args(argv)

    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([sys.argv[0] if sys.argv else "grokviz"])
    configure_application(app)

    from grokviz.gui.main_window import MainWindow
    from grokviz.gui.settings import make_settings

    exit_after = bool(os.environ.get(EXIT_AFTER_SHOW_ENV))
    window = MainWindow(settings=make_settings(args.settings))
    path = args.run or (None if args.no_example else default_run_path())
    missing = bool(args.run) and not os.path.exists(args.run)

    exit_after_content = bool(os.environ.get(EXIT_AFTER_CONTENT_ENV))
    preview = show_preview(window, path) if path and not missing else None  # in the window's first paint
    if exit_after_content:
        _report_content(window, started, preview)

    def after_first_paint():
        if exit_after_content:
            return
        window.status_label.setText("Loading plots…")
        window.status_label.repaint()
        window.build_plot_views()
        if preview is not None:
            window.training_view.show_preview(preview)
        window.start_engine(None if missing else path)
        if missing:
            window.report_error(f"{args.run}: no such file")

    window.first_paint = _FirstPaint(window, started, exit_after, then=after_first_paint)
    window.show()
    code = app.exec()
    return int(code)


if __name__ == "__main__":
    raise SystemExit(main())
