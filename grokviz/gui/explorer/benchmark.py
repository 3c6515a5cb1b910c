"""Explorer redraw speed (issue 6): time per slider step, measured offscreen.

``measure_redraw(...) -> dict`` — for each mode (lines / heatmap × space / Fourier) step the
focused slider ``steps`` times on a [128, 113, 113] tensor; each sample is the wall time of
``state.set_index`` (which redraws) plus ``QApplication.processEvents()`` (which paints).
Reports p50/p95/max wall ms per mode (and the process's CPU ms, which other processes on a
shared machine barely affect), the one-off prepare (transform) time, whether wall p95 ≤ 16 ms,
and the 1-minute load average at the end.
``grokviz bench gui`` calls it; ``python -m grokviz.gui.explorer.benchmark`` prints it.
"""

from __future__ import annotations

import os
import time

import numpy as np

TARGET_P95_MS = 16.0
MODES = ("lines-space", "lines-fourier", "heatmap-space", "heatmap-fourier")


def _app():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtWidgets

    from grokviz.gui.offscreen import close_views_at_exit

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    close_views_at_exit()
    return app


def measure_redraw(shape=(128, 113, 113), steps: int = 150, modes=MODES, size=(1400, 900),
                   warmup: int = 5, with_overlay: bool = True) -> dict:
    """Per-mode redraw timings (ms) for slider steps on a synthetic [d, c, a] wave tensor.

    Lines: x = a, sliders d and c, stepping c (plus the c/2 cosine-model overlay when
    ``with_overlay``).  Heatmap: x = a, y = c, stepping d.  Fourier: the displayed axes
    transformed (magnitude per frequency).  Returns ``{"shape", "steps", "target_p95_ms",
    "modes": {mode: {"p50_ms", "p95_ms", "max_ms", "prepare_ms", "ok"}}, "ok"}``.
    """
    app = _app()
    from grokviz.gui.appearance import configure_plots

    configure_plots()  # measure with the app's own pyqtgraph settings (antialiasing on)
    from PySide6 import QtWidgets

    from grokviz.core.tasks import Task
    from grokviz.gui.explorer import ExplorerContext, ExplorerWidget
    from grokviz.gui.explorer.demo import KEY_FREQUENCIES, wave_tensor

    d, p, p2 = shape
    assert p == p2, "the benchmark tensor is [d, c, a] with c and a of the same size"
    tensor = wave_tensor(p, d)
    overlays = {"c/2 cosine model": wave_tensor(p, d, clean=True)} if with_overlay else {}
    window = QtWidgets.QMainWindow()
    explorer = ExplorerWidget(window)
    window.setCentralWidget(explorer)
    window.resize(*size)
    window.show()
    app.processEvents()
    explorer.set_tensor(tensor, overlays, ExplorerContext(task=Task("add", p) if p >= 2 else None,
                                                          key_frequencies=KEY_FREQUENCIES))
    st = explorer.state
    results = {}
    for mode in modes:
        kind, space = mode.split("-")
        st.fourier = set()
        t0 = time.perf_counter()
        if kind == "lines":
            st.set_roles(2)
            step_dim = 1
        else:
            st.set_roles(2, 1)
            step_dim = 0
        st.set_fourier(st.x_dim, space == "fourier")
        if kind == "heatmap":
            st.set_fourier(st.y_dim, space == "fourier")
        app.processEvents()
        prepare_ms = (time.perf_counter() - t0) * 1000
        samples, cpu = [], []
        size_step = tensor.shape[step_dim]
        for i in range(warmup + steps):
            t, c = time.perf_counter(), time.process_time()
            st.set_index(step_dim, (st.indices[step_dim] + 1) % size_step)
            app.processEvents()
            if i >= warmup:
                samples.append((time.perf_counter() - t) * 1000)
                cpu.append((time.process_time() - c) * 1000)
        arr, cpu_arr = np.array(samples), np.array(cpu)
        p95 = float(np.percentile(arr, 95))
        results[mode] = {"p50_ms": round(float(np.percentile(arr, 50)), 3), "p95_ms": round(p95, 3),
                         "max_ms": round(float(arr.max()), 3),
                         "cpu_p50_ms": round(float(np.percentile(cpu_arr, 50)), 3),
                         "cpu_p95_ms": round(float(np.percentile(cpu_arr, 95)), 3),
                         "prepare_ms": round(prepare_ms, 1), "ok": p95 <= TARGET_P95_MS}
    window.close()
    explorer.deleteLater()
    window.deleteLater()
    app.processEvents()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"shape": list(shape), "steps": steps, "target_p95_ms": TARGET_P95_MS, "modes": results,
            "ok": all(r["ok"] for r in results.values()), "cpus": os.cpu_count(),
            "load_average_1min": load,
            "note": "wall time per slider step incl. paint; cpu_* is this process's CPU time (less "
                    "sensitive to other processes; a load average above the CPU count inflates wall time)"}


def bench_explorer_redraw(args=None, app=None) -> dict:
    """Section adapter for ``grokviz bench gui`` (``SECTIONS.append(("explorer_redraw",
    bench_explorer_redraw))``): ``--quick`` takes 40 steps per mode instead of 150."""
    steps = 40 if getattr(args, "quick", False) else 150
    return measure_redraw(steps=steps)


def main():
    import json
    import sys

    import torch

    torch.set_num_threads(2)
    quick = "--quick" in sys.argv
    print(json.dumps(measure_redraw(steps=40 if quick else 150), indent=2))


if __name__ == "__main__":
    main()
