"""Circles animation speed (issue 16): frames per second of the Circles tab playing at p = 113.

Opens the bundled example (add, p = 113, 51 checkpoints, 5 key frequencies, every token labelled)
in a :class:`~grokviz.gui.tabs.circles.CirclesView` offscreen and steps through its precomputed
frames; each sample is the wall time of ``show_frame`` (moves 5 × 113 points and labels) plus
``repaint()`` and ``processEvents()`` (paints). Target ≥ 30 frames per second by wall time; the
process's CPU time per frame (``fps_by_cpu_time``) is given too, as other processes barely affect it.
``grokviz bench gui`` runs it as ``circles_animation``.
"""

from __future__ import annotations

import os
import statistics
import time

TARGET_FPS = 30.0


def bench_circles_animation(args=None, app=None, loops: int | None = None, size=(1400, 900)) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtWidgets

    app = app or QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    from grokviz.gui.appearance import configure_plots

    configure_plots()
    from grokviz.core.example import example_path
    from grokviz.core.runfile import load_run
    from grokviz.gui.tabs.circles import CirclesView

    loops = loops or (1 if getattr(args, "quick", False) else 3)
    run = load_run(example_path())
    view = CirclesView(run=run)
    view.resize(*size)
    view.show()
    began = time.perf_counter()
    while (view.result is None or view.busy) and time.perf_counter() - began < 300:
        app.processEvents()
        time.sleep(0.01)
    if view.result is None:
        return {"ok": False, "error": "the circles did not compute within 300 s"}
    prepare_s = time.perf_counter() - began
    frames = len(view.result.epochs)
    samples, cpu = [], []
    for index in list(range(3)) + [i % frames for i in range(loops * frames)]:
        t0, c0 = time.perf_counter(), time.process_time()
        view.show_frame(index)
        view.canvas.repaint()
        app.processEvents()
        samples.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    samples, cpu = sorted(samples[3:]), cpu[3:]
    p95 = samples[int(0.95 * (len(samples) - 1))]
    fps = 1000.0 / statistics.mean(samples)
    labels = sum(len(plot.label_tokens) for _, _, plot in view.circle_plots)
    view.close()
    view.deleteLater()
    cpu_fps = 1000.0 / statistics.mean(cpu)  # this process's CPU per frame: what a quiet machine would manage
    return {"ok": fps >= TARGET_FPS, "fps_mean": fps, "fps_by_cpu_time": cpu_fps, "cpu_ms_mean": statistics.mean(cpu), "fps_at_p95": 1000.0 / p95, "p50_ms": statistics.median(samples),
            "p95_ms": p95, "max_ms": samples[-1], "frames": len(samples), "p": run.p,
            "plots": len(view.circle_plots), "labels": labels, "prepare_s": prepare_s, "target_fps": TARGET_FPS,
            "load_average": os.getloadavg()[0]}


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(bench_circles_animation(), indent=2))
