"""Running a sweep: executors, resume, the index, progress and clean stops.

Executors
---------
``local`` on CPU
    A ``spawn`` process pool sized to the cores; each worker uses one torch thread, so N
    workers do not oversubscribe the machine. ``workers=1`` trains in this process instead.
``local`` on CUDA (cells' device ``auto``/``cuda`` and a GPU present)
    Fresh cells with the same shape and recipe train together as one batched ensemble
    (:mod:`grokviz.sweep.ensemble`: stacked weights, ``vmap`` over the last-position forward),
    each still written to its own run file with per-model optimiser state; cells with a partial
    run file resume one by one. The CPU path never imports the ensemble module. (Untested on a
    real GPU here; its math and its training loop are tested on CPU.)
``ray``
    Each cell is a Ray task (``num_cpus`` CPUs, or 1 GPU when ``gpus_per_cell`` is set) on an
    existing cluster (``address="auto"`` or ``"ray://host:10001"`` / ``"host:6379"``). The task
    writes its run file (periodic crash-safe saves included) straight into the sweep directory,
    so **the directory must be on a filesystem every Ray node shares** (NFS, a cloud bucket
    mount, or one machine). The task also returns the cell's index record, which the driver
    writes to the index. A cancelled / lost task resumes from its last save on the next run.

Resume: a cell whose run file says ``finished`` with the requested epochs is skipped; a cell
with a partial run file continues from its saved optimiser state (bit-identical to an
uninterrupted run); anything else starts afresh. A failing cell is recorded as ``failed`` with
its error and never stops the others.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

from grokviz.core.progressbar import ProgressBar, format_duration
from grokviz.sweep.cell import base_record, existing_run, record_from_run, run_cell
from grokviz.sweep.index import write_index
from grokviz.sweep.spec import SweepSpec

INDEX_WRITE_INTERVAL = 5.0
EVENT_INTERVAL = 0.5


# -- process-pool worker side ----------------------------------------------------------------------

_STOP = None
_QUEUE = None


def _init_worker(stop, queue) -> None:
    import signal

    global _STOP, _QUEUE
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and sets `stop`
    _STOP, _QUEUE = stop, queue


def throttled(emit):
    """``emit(name, kind, payload)`` with progress events at most every EVENT_INTERVAL seconds."""
    last = [0.0]

    def events(name, kind, payload):
        now = time.monotonic()
        if kind == "progress" and now - last[0] < EVENT_INTERVAL:
            return
        last[0] = now
        emit(name, kind, payload)

    return events


def _pool_task(cell, directory: str) -> dict:
    from grokviz.core.training import TrainingControl

    class EventControl(TrainingControl):
        @property
        def cancelled(self) -> bool:
            return self._cancel.is_set() or _STOP.is_set()

    if _STOP.is_set():
        record = base_record(cell)
        record["status"] = "pending"
        return record
    events = throttled(lambda name, kind, payload: _QUEUE.put((name, kind, payload)))
    return run_cell(cell, directory, threads=1, control=EventControl(), events=events)


def _ray_task(cell, directory: str, threads: int) -> dict:
    return run_cell(cell, directory, threads=threads)


# -- the driver ------------------------------------------------------------------------------------

class Sweep:
    """Run the cells of ``spec`` into ``out``; ``stop()`` (e.g. from a SIGINT handler) stops cleanly."""

    def __init__(self, spec: SweepSpec, out, *, workers: int | None = None, executor: str = "local",
                 ray_address: str | None = None, cpus_per_cell: int = 1, gpus_per_cell: float = 0,
                 stream=None, quiet: bool = False):
        self.spec, self.out = spec, Path(out)
        self.cells = spec.cells()
        self.workers = workers or max(1, min(os.cpu_count() or 1, len(self.cells)))
        self.executor, self.ray_address = executor, ray_address
        self.cpus_per_cell, self.gpus_per_cell = cpus_per_cell, gpus_per_cell
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.stop_requested = False
        self.records: dict[str, dict] = {}
        self.epochs: dict[str, int] = {}
        self._last_index = 0.0

    # -- public -------------------------------------------------------------------------------
    def stop(self) -> None:
        self.stop_requested = True

    def run(self) -> list[dict]:
        self.out.mkdir(parents=True, exist_ok=True)
        todo = self._scan()
        self._write_index(force=True)
        total_epochs = sum(int(c.option("epochs")) for c in self.cells)
        self.bar = ProgressBar(total_epochs, stream=self.stream)
        self.started = time.perf_counter()
        self.epochs_at_start = sum(self.epochs.values())
        self._log(f"sweep: {len(self.cells)} cells, {len(self.cells) - len(todo)} already finished, "
                  f"{len(todo)} to run ({self._executor_label()}) → {self.out}")
        try:
            if todo:
                if self.executor == "ray":
                    self._run_ray(todo)
                elif self._cuda():
                    self._run_ensembles(todo)
                elif self.workers <= 1 or len(todo) == 1:
                    self._run_inline(todo)
                else:
                    self._run_pool(todo)
        finally:
            for record in self.records.values():
                if record["status"] == "running":
                    record["status"] = "pending"
            self._write_index(force=True)
            self.bar.close()
        counts = {s: sum(r["status"] == s for r in self.records.values()) for s in ("finished", "failed", "pending")}
        self._log(f"sweep: {counts['finished']} finished, {counts['failed']} failed, {counts['pending']} pending "
                  f"in {format_duration(time.perf_counter() - self.started)}"
                  + ("" if not self.stop_requested else " (stopped; re-run to resume)"))
        return [self.records[c.name] for c in self.cells]

    @property
    def status(self) -> str:
        statuses = {r["status"] for r in self.records.values()}
        if "pending" in statuses or "running" in statuses:
            return "stopped"
        return "failed" if "failed" in statuses else "finished"

    # -- set-up -------------------------------------------------------------------------------
    def _scan(self) -> list:
        todo = []
        for cell in self.cells:
            record = base_record(cell)
            run = None
            try:
                run = existing_run(cell, self.out / f"{cell.name}.pt")
            except Exception as error:  # noqa: BLE001 - bad parameters: the worker records the failure
                del error
            if run is not None:
                done = (run.status == "finished" and run.epochs_trained >= int(cell.option("epochs"))
                        or run.status == "diverged")  # recorded as failed; resuming would diverge again
                record = record_from_run(cell, run, "finished" if done else "pending")
                if not done:
                    todo.append(cell)
            else:
                todo.append(cell)
            self.records[cell.name] = record
            self.epochs[cell.name] = min(int(record["epochs_done"] or 0), int(cell.option("epochs")))
        return todo

    def _executor_label(self) -> str:
        if self.executor == "ray":
            need = f"{self.gpus_per_cell:g} GPU" if self.gpus_per_cell else f"{self.cpus_per_cell} CPU"
            return f"ray {self.ray_address or 'local'}, {need} per cell"
        return f"local, {self.workers} worker{'s' if self.workers != 1 else ''}"

    # -- bookkeeping --------------------------------------------------------------------------
    def _log(self, line: str) -> None:
        if self.quiet:
            return
        prefix = "\r\033[K" if getattr(self.stream, "isatty", lambda: False)() else ""
        self.stream.write(prefix + line + "\n")
        self.stream.flush()

    def _write_index(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_index < INDEX_WRITE_INTERVAL:
            return
        self._last_index = now
        write_index(self.out, [self.records[c.name] for c in self.cells], self.spec.to_dict())

    def _event(self, name: str, kind: str, payload: dict) -> None:
        record = self.records[name]
        if kind == "start":
            record["status"] = "running"
            self.epochs[name] = payload["epoch"]
            self._log(f"  start  {name} (from epoch {payload['epoch']})")
            self._write_index(force=True)
        elif kind == "progress":
            self.epochs[name] = payload["epoch"]
            record["epochs_done"] = payload["epoch"]
            record["test_acc"] = payload["test_acc"]
            self._draw()
            self._write_index()

    def _draw(self) -> None:
        if self.quiet:
            return
        done = sum(self.epochs.values())
        total = self.bar.total
        elapsed = time.perf_counter() - self.started
        rate = (done - self.epochs_at_start) / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else float("nan")
        running = [n for n, r in self.records.items() if r["status"] == "running"]
        cells_done = sum(r["status"] in ("finished", "failed") for r in self.records.values())
        parts = [f"{n.split('_seed')[0]} {self.epochs[n]}/{dict(self._cells_by_name()[n].options)['epochs']}"
                 f" acc {100 * (self.records[n]['test_acc'] or 0):.0f}%" for n in running]
        eta_text = format_duration(eta) if eta == eta else "?"
        self.bar.update(done, f"{cells_done}/{len(self.cells)} cells, ETA {eta_text} | " + "; ".join(parts))

    def _cells_by_name(self) -> dict:
        if not hasattr(self, "_by_name"):
            self._by_name = {c.name: c for c in self.cells}
        return self._by_name

    def _finish(self, cell, record: dict) -> None:
        self.records[cell.name] = record
        if record["status"] in ("finished", "failed"):
            self.epochs[cell.name] = int(cell.option("epochs"))
        else:
            self.epochs[cell.name] = int(record.get("epochs_done") or 0)
        if record["status"] == "finished":
            grokked = record["grokked_epoch"]
            self._log(f"  done   {cell.name}: grokked at {grokked if grokked is not None else '—'}, "
                      f"test acc {100 * (record['test_acc'] or 0):.1f}% in {format_duration(record['wall_time'] or 0)}")
        elif record["status"] == "failed":
            self._log(f"  FAILED {cell.name}: {record['error']}")
        else:
            self._log(f"  paused {cell.name} at epoch {record.get('epochs_done')}")
        self._write_index(force=True)
        self._draw()

    # -- executors ----------------------------------------------------------------------------
    def _run_inline(self, todo) -> None:
        from grokviz.core.training import TrainingControl

        sweep = self

        class StopControl(TrainingControl):
            @property
            def cancelled(self) -> bool:
                return self._cancel.is_set() or sweep.stop_requested

        events = throttled(self._event)

        for cell in todo:
            if self.stop_requested:
                break
            self._finish(cell, run_cell(cell, str(self.out), threads=None, control=StopControl(), events=events))

    def _cuda(self) -> bool:
        """The local executor batches cells into ensembles when the cells' device resolves to CUDA."""
        device = self.cells[0].option("device")
        if device == "cpu":
            return False
        import torch

        return torch.cuda.is_available() and (device == "auto" or device.startswith("cuda"))

    def _run_ensembles(self, todo) -> None:
        """One GPU: fresh cells train as batched ensembles per shape group; partial runs resume singly."""
        import torch

        from grokviz.core.device import resolve_device
        from grokviz.sweep.ensemble import group_key, train_ensemble

        device = resolve_device(self.cells[0].option("device"))
        fresh = [c for c in todo if not (self.out / f"{c.name}.pt").exists()]
        self._run_inline([c for c in todo if c not in fresh])
        groups: dict = {}
        for cell in fresh:
            try:
                from grokviz.sweep.cell import build_configs

                build_configs(cell)
            except Exception:  # noqa: BLE001 - a bad cell fails on its own, with its message
                self._run_inline([cell])
                continue
            groups.setdefault(group_key(cell), []).append(cell)
        for cells in groups.values():
            if self.stop_requested:
                break
            for cell in cells:
                self._event(cell.name, "start", {"epoch": 0, "total": cell.option("epochs")})

            def on_progress(epoch, total, worst_acc, cells=cells):
                for cell in cells:
                    self._event(cell.name, "progress", {"epoch": epoch, "total": total, "test_acc": worst_acc})

            try:
                records = train_ensemble(cells, self.out, device, stop=lambda: self.stop_requested,
                                         on_progress=on_progress)
            except Exception as error:  # noqa: BLE001 - e.g. out of GPU memory: fall back to one by one
                self._log(f"sweep: ensemble of {len(cells)} failed ({type(error).__name__}: {error}); one by one")
                torch.cuda.empty_cache()
                self._run_inline(cells)
                continue
            for cell, record in zip(cells, records):
                self._finish(cell, record)

    def _run_pool(self, todo) -> None:
        import queue as queue_module

        context = multiprocessing.get_context("spawn")
        stop, events = context.Event(), context.Queue()
        by_name = {c.name: c for c in todo}
        with ProcessPoolExecutor(self.workers, mp_context=context, initializer=_init_worker,
                                 initargs=(stop, events)) as pool:
            futures = {pool.submit(_pool_task, cell, str(self.out)): cell for cell in todo}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                while True:
                    try:
                        name, kind, payload = events.get_nowait()
                    except queue_module.Empty:
                        break
                    if name in by_name:
                        self._event(name, kind, payload)
                for future in done:
                    cell = futures[future]
                    if future.cancelled():
                        continue
                    try:
                        record = future.result()
                    except Exception as error:  # noqa: BLE001 - e.g. a worker killed by the OOM killer
                        record = base_record(cell)
                        record.update(status="failed", error=f"worker died: {type(error).__name__}: {error}")
                    self._finish(cell, record)
                if self.stop_requested and not stop.is_set():
                    stop.set()
                    self._log("sweep: stopping — running cells save their state (Ctrl-C again to abort)")
                    for future in pending:
                        future.cancel()

    def _run_ray(self, todo) -> None:
        try:
            import ray
        except ImportError:
            from grokviz.core.errors import ParameterError

            raise ParameterError("--ray", "Ray is not installed (pip install 'grokviz[ray]')") from None
        if not ray.is_initialized():
            ray.init(address=self.ray_address or "auto", log_to_driver=False)
        options = {"num_cpus": self.cpus_per_cell, "max_retries": 0}
        if self.gpus_per_cell:
            options = {"num_cpus": 1, "num_gpus": self.gpus_per_cell, "max_retries": 0}
        remote = ray.remote(_ray_task).options(**options)
        threads = max(1, int(options["num_cpus"]))
        refs = {remote.remote(cell, str(self.out.resolve()), threads): cell for cell in todo}
        pending = list(refs)
        for cell in todo:
            self.records[cell.name]["status"] = "running"
        self._write_index(force=True)
        cancelled = False
        while pending:
            ready, pending = ray.wait(pending, num_returns=1, timeout=0.5)
            for ref in ready:
                cell = refs[ref]
                try:
                    record = ray.get(ref)
                except Exception as error:  # noqa: BLE001 - task cancelled or its node lost
                    record = base_record(cell)
                    if cancelled:
                        record["status"] = "pending"
                    else:
                        record.update(status="failed", error=f"ray task failed: {type(error).__name__}: {error}"[:500])
                self._finish(cell, record)
            if self.stop_requested and not cancelled:
                cancelled = True
                self._log("sweep: cancelling Ray tasks — they resume from their last save on the next run")
                for ref in pending:
                    ray.cancel(ref)
