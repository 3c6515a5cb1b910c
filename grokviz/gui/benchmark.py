"""``grokviz bench gui``: how responsive the desktop app is.

Sections (each a dict under ``result["sections"]``; add one by appending to :data:`SECTIONS`, e.g.
the Explorer's redraw timing as ``("explorer_redraw", function)`` with ``function(args, app) -> dict``
that sets ``ok``):

* ``window_visible`` — seconds from launching ``python -m grokviz`` to the first paint of the main
  window (the app prints the time and quits, ``GROKVIZ_EXIT_AFTER_SHOW``); target ≤ 2 s; also
  checks that torch was not imported before the window showed.
* ``content_visible`` — seconds from process start to the bundled example's loss curves painted
  (``GROKVIZ_EXIT_AFTER_CONTENT``; read without torch, :mod:`grokviz.core.quickread`); target ≤ 1 s.
* ``training_in_app`` — ms per epoch of the default recipe (p = 113) trained from the app (its
  child process) and by ``grokviz train`` in the same bench run, interleaved; target ratio ≤ 1.15.
* ``training_stall`` — the largest event-loop stall while the app trains p = 113, worst of three
  repetitions: a 5 ms QTimer probe records how late each tick fires; the live curves redraw as in
  the app. Target ≤ 100 ms. Also how long Cancel takes (the child stops and saves).
* ``live_progress_overhead`` — training time with the live progress measures ÷ without
  (:mod:`grokviz.analysis.live`), paired interval by interval inside one trainer
  (:mod:`grokviz.gui.live_overhead_bench`); target ≤ 1.03.

The headline numbers are also at the top level: ``content_visible_s``, ``training_in_app``
(``ms_per_epoch``, ``cli_ms_per_epoch``, ``ratio``), ``training_stall.max_stall_ms``,
``live_progress_overhead``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

from grokviz.core.progressbar import log
from grokviz.gui.live_overhead_bench import bench_live_progress_overhead
from grokviz.training_process import child_environment

WINDOW_TARGET_S = 2.0
CONTENT_TARGET_S = 1.0
STALL_TARGET_MS = 100.0
IN_APP_TARGET_RATIO = 1.15
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


def _bench_window(app):
    from grokviz.gui.main_window import MainWindow
    from grokviz.gui.settings import make_settings

    directory = tempfile.mkdtemp(prefix="grokviz-bench-")
    window = MainWindow(settings=make_settings(os.path.join(directory, "settings.ini")))
    window.show()
    window.load_engine_now()
    app.processEvents()
    return window, directory


def _close(window, app) -> None:
    window.close()
    window.deleteLater()
    app.processEvents()


def _wait_for_progress(app, job, seconds: float = 120.0) -> None:
    from PySide6 import QtCore

    first = time.perf_counter()
    while job.latest is None and not job.ended and time.perf_counter() - first < seconds:
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.01)


def _stall_once(app, seconds: float, p: int) -> dict:
    from grokviz.core.config import ModelConfig, TrainConfig
    from grokviz.core.data import SplitSpec
    from grokviz.core.tasks import Task

    window, directory = _bench_window(app)
    out = os.path.join(directory, "stall.pt")
    config = TrainConfig(epochs=10_000_000, device="cpu", save_every_seconds=1e9)
    idle_lateness = _probe(min(1.0, seconds / 4))
    job = window.start_training(Task("add", p), SplitSpec(), ModelConfig(p=p), config, out)
    _wait_for_progress(app, job)
    start_epoch = job.latest.epoch if job.latest else 0
    began = time.perf_counter()
    lateness = _probe(seconds)
    measured = time.perf_counter() - began
    epochs = (job.latest.epoch if job.latest else 0) - start_epoch
    cancel_began = time.perf_counter()
    window.stop_training_and_wait(load_result=False)
    cancel_s = time.perf_counter() - cancel_began
    redraws = window.training_view.redraw_count
    _close(window, app)
    return {"lateness": lateness, "idle_max": max(idle_lateness) if idle_lateness else float("nan"),
            "seconds": measured, "epochs": epochs, "ms_per_epoch": measured * 1000 / max(epochs, 1),
            "redraws": redraws, "cancel_s": cancel_s}


def bench_training_stall(args, app=None, seconds: float | None = None, p: int = 113, repeats: int = 3) -> dict:
    """The largest event-loop stall while the app trains (child process), worst over ``repeats`` runs."""
    app = app or _app()
    seconds = seconds or (4.0 if getattr(args, "quick", False) else 6.0)
    runs = [_stall_once(app, seconds, p) for _ in range(repeats)]
    worsts = [max(r["lateness"]) if r["lateness"] else float("nan") for r in runs]
    ordered = sorted(v for r in runs for v in r["lateness"])
    worst = max(worsts)
    p99 = ordered[int(0.99 * (len(ordered) - 1))] if ordered else float("nan")
    return {"ok": worst <= STALL_TARGET_MS, "max_stall_ms": worst, "max_stall_ms_per_run": worsts,
            "p99_stall_ms": p99, "median_lateness_ms": statistics.median(ordered) if ordered else float("nan"),
            "idle_max_stall_ms": max(r["idle_max"] for r in runs), "ticks": len(ordered),
            "stalls_over_50ms": sum(1 for v in ordered if v > 50), "repetitions": repeats,
            "seconds_per_run": seconds, "p": p, "ms_per_epoch_per_run": [r["ms_per_epoch"] for r in runs],
            "redraws_per_run": [r["redraws"] for r in runs], "cancel_and_save_s": max(r["cancel_s"] for r in runs),
            "target_ms": STALL_TARGET_MS}


def _cli_train(out: str, epochs: int, p: int, live: bool = True) -> tuple[float, float]:
    """``grokviz train`` in a fresh process (the default recipe): (seconds per epoch from the run's
    own training time, wall seconds of the whole process)."""
    command = [sys.executable, "-m", "grokviz", "train", "--task", "add", "--p", str(p), "--epochs", str(epochs),
               "--out", out, "--device", "cpu", "--save-every", "1e9"] + ([] if live else ["--no-progress-measures"])
    began = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=1800, env=child_environment())
    process_s = time.perf_counter() - began
    from grokviz.core.runfile import load_run

    run = load_run(out)
    return run.wall_time / max(run.epochs_trained, 1), process_s


def _app_train(app, out: str, epochs: int, p: int) -> float:
    """The same recipe trained from the app (New run → the child process): seconds per epoch."""
    from PySide6 import QtCore

    from grokviz.core.config import ModelConfig, TrainConfig
    from grokviz.core.data import SplitSpec
    from grokviz.core.tasks import Task

    window, _directory = _bench_window(app)
    config = TrainConfig(epochs=epochs, device="cpu", save_every_seconds=1e9)
    job = window.start_training(Task("add", p), SplitSpec(), ModelConfig(p=p), config, out)
    while not job.ended:
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.01)
    run = job.run_result
    _close(window, app)
    if run is None:
        raise RuntimeError("training in the app failed")
    return run.wall_time / max(run.epochs_trained, 1)


def bench_training_in_app(args, app=None, p: int = 113) -> dict:
    """ms per epoch training in the app vs ``grokviz train``, same recipe, interleaved rounds."""
    app = app or _app()
    quick = getattr(args, "quick", False)
    epochs, rounds = (300, 1) if quick else (300, 3)
    directory = tempfile.mkdtemp(prefix="grokviz-bench-")
    in_app, cli = [], []
    for i in range(rounds):
        in_app.append(_app_train(app, os.path.join(directory, f"app{i}.pt"), epochs, p) * 1000)
        cli.append(_cli_train(os.path.join(directory, f"cli{i}.pt"), epochs, p)[0] * 1000)
    ratio = statistics.median(in_app) / statistics.median(cli)
    return {"ok": ratio <= IN_APP_TARGET_RATIO, "ms_per_epoch": statistics.median(in_app),
            "cli_ms_per_epoch": statistics.median(cli), "ratio": ratio, "app_runs_ms": in_app, "cli_runs_ms": cli,
            "epochs": epochs, "p": p, "target_ratio": IN_APP_TARGET_RATIO}


def bench_content_visible(args, app=None, repeats: int | None = None) -> dict:
    """Seconds from process start to the example's loss curves painted (``GROKVIZ_EXIT_AFTER_CONTENT``)."""
    from grokviz.gui.launch import CONTENT_MARKER, EXIT_AFTER_CONTENT_ENV

    repeats = repeats or (2 if getattr(args, "quick", False) else 5)
    env = dict(child_environment(), **{EXIT_AFTER_CONTENT_ENV: "1"})
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env["GROKVIZ_SETTINGS"] = os.path.join(tempfile.mkdtemp(prefix="grokviz-bench-"), "settings.ini")
    since_start, launched_to_content = [], []
    for _ in range(repeats):
        launched = time.time()
        done = subprocess.run([sys.executable, "-m", "grokviz"], env=env, capture_output=True, text=True, timeout=120)
        lines = [line.split() for line in done.stdout.splitlines() if line.startswith(CONTENT_MARKER)]
        if not lines or "curves=1" not in lines[0]:
            return {"ok": False, "error": f"no content marker (exit {done.returncode}): {done.stderr.strip()[-300:]}"}
        launched_to_content.append(float(lines[0][1]) - launched)
        since_start.append(float(lines[0][2]))
    median = statistics.median(since_start)
    return {"ok": median <= CONTENT_TARGET_S, "content_visible_s": median, "runs_s": since_start,
            "min_s": min(since_start), "max_s": max(since_start),
            "launch_to_content_s": statistics.median(launched_to_content), "target_s": CONTENT_TARGET_S}


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
    ("content_visible", bench_content_visible),
    ("training_in_app", bench_training_in_app),
    ("training_stall", bench_training_stall),
    ("live_progress_overhead", bench_live_progress_overhead),  # grokviz.gui.live_overhead_bench
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
    headline = {"content_visible_s": sections["content_visible"].get("content_visible_s"),
                "training_in_app": {k: sections["training_in_app"].get(k) for k in ("ms_per_epoch", "cli_ms_per_epoch", "ratio")},
                "training_stall": {"max_stall_ms": sections["training_stall"].get("max_stall_ms")},
                "live_progress_overhead": sections["live_progress_overhead"].get("ratio")}
    if not getattr(args, "json", False):
        window = sections.get("window_visible", {})
        stall = sections.get("training_stall", {})
        if "median_s" in window:
            print(f"window visible      {window['median_s']:.2f} s median (min {window['min_s']:.2f}, "
                  f"max {window['max_s']:.2f}; target ≤ {WINDOW_TARGET_S:g} s) "
                  f"{'met' if window['ok'] else 'MISSED'}; torch before window: "
                  f"{'yes' if window['heavy_imports_before_visible'] else 'no'}")
        if "max_stall_ms" in stall:
            print(f"training stall      max {stall['max_stall_ms']:.1f} ms (per run {stall['max_stall_ms_per_run']}), "
                  f"p99 {stall['p99_stall_ms']:.1f} ms over {stall['repetitions']} × {stall['seconds_per_run']:.0f} s "
                  f"training p = {stall['p']}; target ≤ {STALL_TARGET_MS:g} ms) {'met' if stall['ok'] else 'MISSED'}")
            print(f"                    {stall['stalls_over_50ms']} stalls > 50 ms; idle baseline (no training) "
                  f"max {stall['idle_max_stall_ms']:.1f} ms")
            print(f"cancel + save       {stall['cancel_and_save_s']:.2f} s")
        for name, section in sections.items():
            if "error" in section:
                print(f"{name}: error: {section['error']}")
            elif name not in ("window_visible", "training_stall"):
                print(f"{name}: {section}")
    return {"benchmark": "gui", **headline, "sections": sections, "ok": ok}
