"""Saving a run so that a failed save never loses it (issue 18).

:class:`FallbackSaver` is the trainer's ``on_save`` for ``grokviz train``, ``convert`` and the
app's training process. When the output cannot be written (disk full, read-only, its directory
gone) it says so in one line, writes to a fallback file next to the output, else in the temp
directory, says where, and keeps saving there. :attr:`~FallbackSaver.path` is where the run is
(None: nowhere — the caller still holds the run in memory and can :meth:`~FallbackSaver.save_as`).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Callable

from grokviz.core.atomic import SaveError
from grokviz.core.errors import display_path


class FallbackSaver:
    """``saver(run)``: save to the output, else to the fallbacks; ``report(line)`` hears each new
    failure and each change of place (the CLI prints them, the training process sends them)."""

    def __init__(self, out, report: Callable[[str], None]):
        out = Path(out)
        name = f"{out.stem}.unsaved-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}{out.suffix or '.pt'}"
        self.out, self.path, self.report = out, out, report
        self.failed: list[str] = []
        self.targets = list(dict.fromkeys([out, out.with_name(name), Path(tempfile.gettempdir()) / name]))

    def _try(self, run, target: Path) -> bool:
        from grokviz.core.runfile import save_run

        try:
            save_run(run, target)
        except SaveError as error:
            if str(error) not in self.failed:
                self.failed.append(str(error))
                self.report(str(error))
            return False
        return True

    def __call__(self, run) -> None:
        start = self.targets.index(self.path) if self.path is not None else 0
        for target in self.targets[start:] + self.targets[:start]:
            if self._try(run, target):
                if target != self.path:
                    self.report(f"saved the run to {display_path(target)} instead")
                self.path = target
                return
        self.path = None

    def save_as(self, run, target) -> bool:
        """Save to ``target`` (the user's choice after every place failed); True when it worked."""
        target = Path(target)
        if not self._try(run, target):
            return False
        self.path = target
        return True
