"""The exception types grokviz raises for bad input (never a bare traceback to the user)."""

from __future__ import annotations

import os

_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def display_text(text: str) -> str:
    """``text`` with control characters escaped (see :func:`display_path`)."""
    text = str(text)
    if text.isprintable():
        return text
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        else:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)


def display_path(path) -> str:
    """``path`` as one safe line: newlines, tabs, ANSI escapes and other control or undecodable
    characters are shown as Python-style escapes (``\\n``, ``\\x1b``, ``\\udcff``), so a hostile
    file name can neither break a one-line message nor drive the terminal. Printable text,
    spaces and non-ASCII letters are kept as they are."""
    text = os.fspath(path) if isinstance(path, os.PathLike) else path
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    return display_text(text)


class GrokvizError(Exception):
    """Base class: a one-line, user-facing message."""


class ParameterError(GrokvizError, ValueError):
    """An invalid parameter; ``parameter`` names it (e.g. ``p`` or ``--frac-train``)."""

    def __init__(self, parameter: str, message: str):
        self.parameter = parameter
        super().__init__(f"{parameter}: {message}")


class RunFileError(GrokvizError):
    """A file that cannot be read as a run; the message says what is wrong and which file
    (shown with :func:`display_path`; ``path`` keeps the name as given)."""

    def __init__(self, path, message: str):
        self.path = str(path)
        super().__init__(f"{display_path(path)}: {display_text(message)}")


class TaskInferenceError(RunFileError):
    """A file that does not store its task, whose task could not be inferred from its weights.

    ``best`` is the best candidate's spec (or None) and ``accuracy`` the share of the training
    labels it explains, so a caller can offer it to the user.
    """

    def __init__(self, path, message: str, best: str | None = None, accuracy: float = 0.0):
        self.best, self.accuracy = best, float(accuracy)
        super().__init__(path, message)


class TrainingCancelled(GrokvizError):
    """Raised inside training when the cancel flag is seen (caught by the trainer)."""


def format_details(error: BaseException) -> str:
    """The traceback of ``error`` as text (the "details" under a one-line message)."""
    import traceback

    return "".join(traceback.format_exception(type(error), error, error.__traceback__))


def user_message(error: BaseException) -> str:
    """One line for the user: the GrokvizError text, or a plain description of the failure."""
    if isinstance(error, MemoryError):
        return "Out of memory (try a smaller p, smaller model or fewer checkpoints)."
    text = str(error).strip().splitlines()
    first = text[0] if text else ""
    if "out of memory" in str(error).lower():
        return "Out of memory: " + first[:300]
    name = type(error).__name__
    if type(error).__module__.startswith("grokviz"):
        return first or name
    return f"{name}: {first}" if first else name
