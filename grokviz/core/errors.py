"""The exception types grokviz raises for bad input (never a bare traceback to the user)."""


class GrokvizError(Exception):
    """Base class: a one-line, user-facing message."""


class ParameterError(GrokvizError, ValueError):
    """An invalid parameter; ``parameter`` names it (e.g. ``p`` or ``--frac-train``)."""

    def __init__(self, parameter: str, message: str):
        self.parameter = parameter
        super().__init__(f"{parameter}: {message}")


class RunFileError(GrokvizError):
    """A file that cannot be read as a run; the message says what is wrong and which file."""

    def __init__(self, path, message: str):
        self.path = str(path)
        super().__init__(f"{display_path(path)}: {message}")


class TrainingCancelled(GrokvizError):
    """Raised inside training when the cancel flag is seen (caught by the trainer)."""


def display_path(path) -> str:
    """A path as it may appear inside a one-line message: control characters (newlines, ANSI
    escapes, …) and undecodable bytes escaped, so a hostile file name cannot break the line or
    drive the terminal."""
    text = str(path)
    if text.isprintable():
        return text
    out = []
    for char in text:
        if char.isprintable():
            out.append(char)
        elif 0xDC80 <= ord(char) <= 0xDCFF:  # surrogate-escaped undecodable byte
            out.append(f"\\x{ord(char) - 0xDC00:02x}")
        else:
            out.append(char.encode("unicode_escape").decode("ascii"))
    return "".join(out)
