"""Train the default recipe (add, p = 113, seed 999, data seed 598, 25,000 epochs) and write the
bundled example run ``resources/example_run.pt``.

Deterministic on CPU. To stay under 25 MB the example keeps every 5th checkpoint (every 500
epochs, plus epoch 0 and the final weights) stored in float16; the full-precision run with all
checkpoints can be written too with ``--full PATH``.

    python scripts/make_example.py [--out resources/example_run.pt] [--full full_run.pt]
    python scripts/make_example.py --resave   # rewrite the example in the current file format

``--resave`` keeps the trained weights and history, writes the current format (with its
checksum) and stores the progress measures, so the app and ``analyze --progress`` read them.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from grokviz.core.config import ModelConfig, TrainConfig
from grokviz.core.data import SplitSpec
from grokviz.core.progressbar import ProgressBar, format_duration
from grokviz.core.runfile import save_run
from grokviz.core.tasks import Task
from grokviz.core.training import Trainer

EXAMPLE_CHECKPOINT_EVERY = 500


def thin(run, every: int):
    """The run with only checkpoints at multiples of ``every`` (and the first)."""
    keep = [i for i, epoch in enumerate(run.checkpoint_epochs) if epoch % every == 0]
    return replace(run, checkpoint_epochs=[run.checkpoint_epochs[i] for i in keep],
                   checkpoints=[run.checkpoints[i] for i in keep], resume_state=None)


def resave(path: Path) -> int:
    from grokviz.analysis.progress import progress_measures
    from grokviz.core.runfile import load_run

    run = load_run(path)
    progress_measures(run)  # kept on run.progress, so saving stores them
    save_run(run, path, storage_dtype=torch.float16)
    print(f"rewrote {path} ({path.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "resources" / "example_run.pt"))
    parser.add_argument("--full", default=None, help="also write the full run here")
    parser.add_argument("--epochs", type=int, default=25_000)
    parser.add_argument("--resave", action="store_true", help="rewrite --out in the current format instead of training")
    args = parser.parse_args(argv)
    if args.resave:
        return resave(Path(args.out))
    task = Task("add", 113)
    config = TrainConfig(epochs=args.epochs, device="cpu")
    bar = ProgressBar(config.epochs)
    trainer = Trainer(task, SplitSpec(), ModelConfig(p=113), config, on_progress=lambda pr: bar.update(
        pr.epoch, f"epoch {pr.epoch} train {pr.train_loss:.3g} test {pr.test_loss:.3g} acc {pr.test_acc:.3f} "
                  f"ETA {format_duration(pr.eta)}"))
    began = time.perf_counter()
    run = trainer.run()
    bar.close()
    print(f"trained {run.epochs_trained} epochs in {format_duration(time.perf_counter() - began)}, "
          f"grokked at {run.grokked_epoch()}, final {run.history.last()}", file=sys.stderr)
    if args.full:
        save_run(run, args.full)
    example = thin(run, EXAMPLE_CHECKPOINT_EVERY)
    example.notes.append(f"bundled example: checkpoints every {EXAMPLE_CHECKPOINT_EVERY} epochs, stored as float16")
    save_run(example, args.out, storage_dtype=torch.float16)
    print(f"wrote {args.out} ({Path(args.out).stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
