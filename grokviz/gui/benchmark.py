"""``grokviz bench gui``: how responsive the desktop app is.

Sections (each a dict under ``result["sections"]``; add one by appending to :data:`SECTIONS`, e.g.
the Explorer's redraw timing as ``("explorer_redraw", function)`` with ``function(args, app) -> dict``
that sets ``ok``):

* ``window_visible`` — seconds from launching ``python -m grokviz`` to the first paint of the main
  window (the app prints the time and quits, ``GROKVIZ_EXIT_AFTER_SHOW``); target ≤ 2 s; also
  checks that torch was not imported before the window showed.
* ``training_stall`` — the largest event-loop stall while the GUI trains p = 113 (the notebook
  model) on CPU in its worker thread: a 5 ms QTimer probe records how late each tick fires; the
  live curves redraw as in the app. Target ≤ 100 ms. Also how long Cancel takes (stop + save).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

from grokviz.core.progressbar import log

WINDOW_TARGET_S = 2.0
STALL_TARGET_MS = 100.0
PROBE_INTERVAL_MS = 5


def _app():
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtWidgets

    from grokviz.gui.appearance import configure_application

    from grokviz.gui.offscreen import close_views_at_exit

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["grokviz-bench"])
    configure_application(app)
    close_views_at_exit()
    return app


def bench_window_visible(args, app=None, repeats: int | None = None) -> dict:
    repeats = repeats or (2 if getattr(args, "quick", False) else 5)
    env = dict(os.environ, GROKVIZ_EXIT_AFTER_SHOW="1")
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env["GROKVIZ_SETTINGS"] = os.path.join(tempfile.mkdtemp(prefix="grokviz-bench-"), "settings.ini")
    times, self_reported, heavy = [], [], []
    for _ in range(repeats):
        launched = time.time()
        done = subprocess.run([sys.executable, "-m", "grokviz"], env=env, capture_output=True, text=True, timeout=120)
        lines = [line.split() for line in done.stdout.splitlines() if line.startswith("grokviz-window-visible")]
        if not lines:
            return {"ok": False, "error": f"no visible marker (exit {done.returncode}): {done.stderr.strip()[-300:]}"}
        fields = lines[0]
        times.append(float(fields[1]) - launched)
        self_reported.append(float(fields[2]))
        heavy.append(any(f == "heavy_imports=1" for f in fields))
    median = statistics.median(times)
    return {"ok": median <= WINDOW_TARGET_S and not any(heavy), "median_s": median, "min_s": min(times),
            "max_s": max(times), "runs_s": times, "since_process_start_s": statistics.median(self_reported),
            "heavy_imports_before_visible": any(heavy), "target_s": WINDOW_TARGET_S,
            "platform": env.get("QT_QPA_PLATFORM", "default")}


def bench_training_stall(args, app=None, seconds: float | None = None, p: int = 113) -> dict:
    from PySide6 import QtCore

    app = app or _app()
    seconds = seconds or (5.0 if getattr(args, "quick", False) else 10.0)
    from grokviz.core.config import ModelConfig, TrainConfig
    from grokviz.core.data import SplitSpec
    from grokviz.core.tasks import Task
    from grokviz.gui.main_window import MainWindow
    from grokviz.gui.settings import make_settings

    directory = tempfile.mkdtemp(prefix="grokviz-bench-")
    window = MainWindow(settings=make_settings(os.path.join(directory, "settings.ini")))
    window.show()
    window.load_engine_now()
    app.processEvents()
    out = os.path.join(directory, "stall.pt")
    config = TrainConfig(epochs=10_000_000, device="cpu", save_every_seconds=1e9)
    job = None
    idle_lateness = _probe(min(2.0, seconds / 4))
    idle_max = max(idle_lateness) if idle_lateness else float("nan")
    job = window.start_training(Task("add", p), SplitSpec(), ModelConfig(p=p), config, out)
    # wait until the worker is really training (first progress), then measure
    first = time.perf_counter()
    while job.latest is None and time.perf_counter() - first < 60:
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.01)
    start_epoch = job.latest.epoch if job.latest else 0
    began = time.perf_counter()
    lateness = _probe(seconds)
    measured = time.perf_counter() - began
    epochs = (job.latest.epoch if job.latest else 0) - start_epoch
    ms_per_epoch = job.latest.ms_per_epoch if job.latest else float("nan")
    redraws = window.training_view.redraw_count
    cancel_began = time.perf_counter()
    window.stop_training_and_wait()
    cancel_s = time.perf_counter() - cancel_began
    window.close()
    window.deleteLater()
    app.processEvents()
    ordered = sorted(lateness)
    worst = ordered[-1] if ordered else float("nan")
    p99 = ordered[int(0.99 * (len(ordered) - 1))] if ordered else float("nan")
    return {"ok": worst <= STALL_TARGET_MS, "max_stall_ms": worst, "p99_stall_ms": p99,
            "median_lateness_ms": statistics.median(ordered) if ordered else float("nan"),
            "idle_max_stall_ms": idle_max, "ticks": len(ordered), "stalls_over_50ms": sum(1 for v in ordered if v > 50),
            "seconds": measured, "p": p, "epochs_trained": epochs, "ms_per_epoch": ms_per_epoch,
            "redraws": redraws, "cancel_and_save_s": cancel_s, "target_ms": STALL_TARGET_MS,
            "switch_interval_s": sys.getswitchinterval()}


def _probe(seconds: float) -> list[float]:
    """Run the event loop for ``seconds`` with a precise 5 ms timer; how late (ms) each tick fired."""
    from PySide6 import QtCore

    lateness: list[float] = []
    last = [None]

    def tick():
        now = time.perf_counter()
        if last[0] is not None:
            lateness.append((now - last[0]) * 1000 - PROBE_INTERVAL_MS)
        last[0] = now

    loop = QtCore.QEventLoop()
    probe = QtCore.QTimer()
    probe.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
    probe.setInterval(PROBE_INTERVAL_MS)
    probe.timeout.connect(tick)
    probe.start()
    QtCore.QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    probe.stop()
    return lateness


def bench_explorer_redraw(args, app) -> dict:
    from grokviz.gui.explorer.benchmark import bench_explorer_redraw as measure

    return measure(args, app)


def bench_circles_animation(args, app) -> dict:
    from grokviz.gui.tabs.circles_bench import bench_circles_animation as measure

    return measure(args, app)


SECTIONS = [
    ("window_visible", bench_window_visible),
    ("training_stall", bench_training_stall),
    ("explorer_redraw", bench_explorer_redraw),
    ("circles_animation", bench_circles_animation),
]


def run_benchmark(args) -> dict:
    app = _app()
    sections = {}
    for name, function in SECTIONS:
        log(f"gui: {name}…")
        try:
            sections[name] = function(args, app)
        except Exception as error:  # noqa: BLE001 - one broken section must not hide the others
            sections[name] = {"ok": False, "error": f"{type(error).__name__}: {error}"}
    ok = all(section.get("ok", True) for section in sections.values())
    if not getattr(args, "json", False):
        window = sections.get("window_visible", {})
        stall = sections.get("training_stall", {})
        if "median_s" in window:
            print(f"window visible      {window['median_s']:.2f} s median (min {window['min_s']:.2f}, "
                  f"max {window['max_s']:.2f}; target ≤ {WINDOW_TARGET_S:g} s) "
                  f"{'met' if window['ok'] else 'MISSED'}; torch before window: "
                  f"{'yes' if window['heavy_imports_before_visible'] else 'no'}")
        if "max_stall_ms" in stall:
            print(f"training stall      max {stall['max_stall_ms']:.1f} ms, p99 {stall['p99_stall_ms']:.1f} ms over "
                  f"{stall['seconds']:.1f} s training p = {stall['p']} ({stall['ms_per_epoch']:.1f} ms/epoch, "
                  f"{stall['redraws']} redraws; target ≤ {STALL_TARGET_MS:g} ms) {'met' if stall['ok'] else 'MISSED'}")
            print(f"                    {stall['stalls_over_50ms']} stalls > 50 ms; idle baseline (no training) "
                  f"max {stall['idle_max_stall_ms']:.1f} ms")
            print(f"cancel + save       {stall['cancel_and_save_s']:.2f} s")
        for name, section in sections.items():
            if "error" in section:
                print(f"{name}: error: {section['error']}")
            elif name not in ("window_visible", "training_stall"):
                print(f"{name}: {section}")
    return {"benchmark": "gui", "sections": sections, "ok": ok}
