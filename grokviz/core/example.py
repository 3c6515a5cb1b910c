"""The bundled example run (``resources/example_run.pt``, installed as ``grokviz.resources``)."""

from __future__ import annotations

from pathlib import Path


def example_path() -> Path:
    """Where the example run is installed (it may be absent from a source checkout without LFS)."""
    from importlib.resources import files

    return Path(str(files("grokviz.resources").joinpath("example_run.pt")))
