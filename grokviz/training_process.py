"""The app's training child process: ``python -m grokviz.training_process`` (core + analysis, no Qt).

Why a child process (issue 17). Training inside the GUI process, in a QThread, ran at
49.7–50.9 ms per epoch (p = 113, default recipe, 2-core machine) against 23–31 ms for
``grokviz train``: the GIL and the event loop's repaints shared one process, so the trainer
got one thread's worth of CPU (threads were capped to leave the GUI a core, and even then the
GUI saw 100+ ms stalls now and then). In its own process the trainer runs exactly the code
``grokviz train`` runs, on torch's own threads and its own GIL, and the window only parses a
few JSON lines per second. It also isolates a crash: a training process that dies (out of
memory, a signal) cannot take the window with it, and the run file keeps what was saved so far
(saves are atomic, :func:`grokviz.core.runfile.save_run`). The alternative — keep the QThread
and give it the cores — keeps the GIL shared with every repaint, which is where the 100–211 ms
stalls came from.

Measured (``grokviz bench gui``, one run under the benchmark lock, 09:05–09:26 UTC on the
shared 2-core machine at load average 7–9, so every absolute time is 10–15× its idle value):
the app's child trained p = 113 (default recipe, 300 epochs, live progress measures on) at
463 ms per epoch against 417 ms for ``grokviz train`` in the same bench run — ratio 1.11
(target ≤ 1.15); the worst event-loop stall over three training repetitions was 23, 190 and
203 ms, with 325 ms measured on the same loaded machine with no training at all (the stalls
are the machine's, not the training's: p99 lateness 15 ms, 2 of 1723 ticks over 50 ms). The
in-thread trainer this replaces measured 49.7–50.9 vs 23–31 ms per epoch on an idle machine
(issue 17). The child costs one interpreter start (torch and TransformerLens imports, ~2–3 s
idle) before the first epoch.

Protocol (one JSON object per line):

* stdin, first line: the job ``{"task", "split", "model_config", "train_config"`` (their
  ``to_dict()``), ``"out"``, ``"resume"`` (a run file to continue, or null), ``"threads"``
  (torch threads, null = torch's default, as the CLI), ``"live_progress"`` (bool)}; then
  commands ``pause`` / ``resume`` / ``cancel``, one per line, and ``save_as PATH`` (PATH as
  JSON) / ``discard`` after an ``unsaved`` message. End of input (the app went away) means
  cancel: the run is saved and the process exits.
* stdout: ``{"type": "progress", <Progress fields>}`` per evaluation, ``{"type": "checkpoint",
  "epoch"}``, ``{"type": "measures", "record": {...}}`` (live progress measures,
  :mod:`grokviz.analysis.live`), ``{"type": "saved", "path", "epoch", "status"}`` after each
  crash-safe save (``path`` is a fallback file when the output could not be written),
  ``{"type": "save_problem", "message"}`` for each new save failure or change of place
  (:class:`~grokviz.core.fallback_save.FallbackSaver`), ``{"type": "unsaved", "message",
  "epoch"}`` when training ended and nothing could be saved anywhere (the run waits in memory
  for ``save_as``), and last ``{"type": "finished", "status", "epochs"}`` or ``{"type":
  "failed", "message", "details"}``.
"""

from __future__ import annotations

import json
import queue
import signal
import sys
import threading


def child_environment(base: dict | None = None) -> dict:
    """Environment for a child ``python -m grokviz…``: this grokviz first on PYTHONPATH (so a
    development checkout's child runs the same code as its parent)."""
    import os

    import grokviz

    root = os.path.dirname(os.path.dirname(os.path.abspath(grokviz.__file__)))
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


class _Channel:
    """Thread-safe JSON lines on stdout (the trainer's callbacks and the reader thread share it)."""

    def __init__(self, stream):
        self.stream = stream
        self.lock = threading.Lock()

    def send(self, kind: str, **fields) -> None:
        line = json.dumps({"type": kind, **fields})
        with self.lock:
            self.stream.write(line + "\n")
            self.stream.flush()


def _listen(stream, control, save_requests: queue.Queue) -> None:
    """Commands from the app; end of input cancels (the run is saved). ``save_as PATH`` (PATH as
    JSON) and ``discard`` answer an ``unsaved`` message; they go to ``save_requests``."""
    for line in stream:
        command = line.strip()
        if command == "pause":
            control.pause()
        elif command == "resume":
            control.resume()
        elif command == "cancel":
            control.cancel()
        elif command.startswith("save_as "):
            try:
                save_requests.put(str(json.loads(command[len("save_as "):])))
            except ValueError:
                pass
        elif command == "discard":
            save_requests.put(None)
    control.cancel()
    save_requests.put(None)


def _save_when_asked(run, saver, channel: _Channel, save_requests: queue.Queue) -> None:
    """Nothing could be saved: keep the run and save it where the app asks (until it discards)."""
    while saver.path is None:
        channel.send("unsaved", message=saver.failed[-1] if saver.failed else "the run could not be saved",
                     epoch=int(run.epochs_trained))
        target = save_requests.get()
        if target is None:
            return
        if saver.save_as(run, target):
            channel.send("saved", path=str(saver.path), epoch=int(run.epochs_trained), status=run.status)


def train(spec: dict, channel: _Channel, control, save_requests: queue.Queue | None = None) -> str:
    """Run the job ``spec`` (module docstring); returns the run's status."""
    import dataclasses

    import torch

    from grokviz.analysis.live import for_run_config, saving_with_progress
    from grokviz.core.config import ModelConfig, TrainConfig
    from grokviz.core.data import SplitSpec
    from grokviz.core.fallback_save import FallbackSaver
    from grokviz.core.runfile import load_run
    from grokviz.core.tasks import Task
    from grokviz.core.training import Trainer

    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    out = str(spec["out"])
    previous = load_run(spec["resume"]) if spec.get("resume") else None
    if previous is not None:
        task, split, model_config = previous.task, previous.split, previous.model_config
        train_config = TrainConfig.from_dict({**previous.train_config.to_dict(), **spec.get("train_config", {})})
    else:
        task, split = Task.from_dict(spec["task"]), SplitSpec.from_dict(spec["split"])
        model_config = ModelConfig.from_dict(spec["model_config"])
        train_config = TrainConfig.from_dict(spec["train_config"])

    saver = FallbackSaver(out, lambda line: channel.send("save_problem", message=line))

    def save(run):
        saver(run)
        if saver.path is not None:
            run.path = str(saver.path)
            channel.send("saved", path=str(saver.path), epoch=int(run.epochs_trained), status=run.status)

    live = None
    if spec.get("live_progress", True):
        live = for_run_config(task, split, previous, on_record=lambda record: channel.send("measures", record=record))

    def on_checkpoint(epoch, state):
        if live is not None:
            live(epoch, state)
        channel.send("checkpoint", epoch=int(epoch))

    trainer = Trainer(task, split, model_config, train_config, control=control,
                      on_progress=lambda progress: channel.send("progress", **dataclasses.asdict(progress)),
                      on_checkpoint=on_checkpoint, on_save=saving_with_progress(live, save) if live else save,
                      resume_from=previous)
    run = trainer.run()
    if saver.path is None and save_requests is not None:
        _save_when_asked(run, saver, channel, save_requests)
    if saver.path is None:
        raise RuntimeError(f"the trained run could not be saved anywhere: {saver.failed[-1] if saver.failed else ''}")
    channel.send("finished", status=run.status, epochs=int(run.epochs_trained), path=str(saver.path))
    return run.status


CHILD_NICENESS = 5


def _yield_to_the_window() -> None:
    """Lower this process's CPU priority by :data:`CHILD_NICENESS`.

    On a machine with as many busy trainer threads as cores, the window's thread had to wait
    for a time slice behind them: up to 150–200 ms event-loop stalls (``bench gui``
    ``training_stall``). At a lower priority the scheduler runs the window as soon as it wakes
    (CFS weights 1024 against 335 at nice 5) while the trainer still gets every cycle the window
    leaves idle, so training speed is unchanged when nothing else runs. No-op where the
    platform has no ``os.nice``.
    """
    import os

    try:
        os.nice(CHILD_NICENESS)
    except (AttributeError, OSError):
        pass


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the app's terminal is the app's to handle
    _yield_to_the_window()
    from grokviz.core.perf import flush_denormals

    flush_denormals()  # before any torch thread exists, so every one inherits it
    from grokviz.core.errors import format_details, user_message
    from grokviz.core.training import TrainingControl

    channel = _Channel(sys.stdout)
    control = TrainingControl()
    try:
        spec = json.loads(sys.stdin.readline())
        save_requests: queue.Queue = queue.Queue()
        threading.Thread(target=_listen, args=(sys.stdin, control, save_requests), daemon=True,
                         name="grokviz-commands").start()
        train(spec, channel, control, save_requests)
    except BaseException as error:  # noqa: BLE001 - reported to the app, which shows it
        channel.send("failed", message=user_message(error), details=format_details(error))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
