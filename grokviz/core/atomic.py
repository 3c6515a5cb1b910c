"""Crash-safe file writes: temp file in the same directory, flush + fsync, rename.

* The temp file is ``.NAME.HOST.PID.TOKEN.tmp``. A save that is killed leaves it behind; the next
  save into that directory removes every such file of this host whose writer process is gone
  (:func:`remove_stale_temps`), and nothing else. (``O_TMPFILE`` + ``linkat`` cannot replace an
  existing file atomically, so it would still need a named temp file for the final rename.)
* Files are created with mode ``0o666`` minus the umask, like any other program's files
  (``mkstemp`` made them 0600).
* Failures are :class:`SaveError`: one line naming the file and the cause (disk full, read-only
  file system, missing directory, permission), raised before anything is replaced. With
  ``expected_size`` the free space is checked before the first byte is written.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import socket
from pathlib import Path

from grokviz.core.errors import GrokvizError, display_path

# torch.save's size beyond the tensor bytes: ~300 bytes of zip record, alignment and pickle per
# tensor (measured: 432 KB file, 380 KB of tensors, 178 tensors), plus a margin for the rest
PER_TENSOR_BYTES = 512
SIZE_MARGIN_BYTES = 1 << 20
SIZE_MARGIN_FRACTION = 0.02

_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<host>[A-Za-z0-9-]+)\.(?P<pid>\d+)\.[0-9a-f]{12}\.tmp$")
_LEGACY_TEMP = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp$")  # tempfile.mkstemp's names


class SaveError(GrokvizError, OSError):
    """A file could not be written; ``path`` is the target, the message says why in one line."""

    def __init__(self, path, reason: str):
        self.path, self.reason = str(path), reason
        GrokvizError.__init__(self, f"cannot save {display_path(path)}: {reason}")

    def __str__(self) -> str:
        return self.args[0]


def describe_os_error(error: OSError) -> str:
    """The cause of a failed write in a few words."""
    code = getattr(error, "errno", None)
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return "disk full (no space left on the device)"
    if code == errno.EFBIG:
        return "file too large for this file system or limit"
    if code == errno.EROFS:
        return "read-only file system"
    if code == errno.ENOENT:
        return "the directory does not exist"
    if code == errno.ENOTDIR:
        return "a part of the path is a file, not a directory"
    if code in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if code == errno.EISDIR:
        return "is a directory"
    return error.strerror or type(error).__name__


def _directory(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


def temp_name(path: Path) -> Path:
    return _directory(path) / f".{path.name}.{_HOST}.{os.getpid()}.{secrets.token_hex(6)}.tmp"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _open_files() -> set[str] | None:
    """Every file some process has open (Linux ``/proc/*/fd``), or None where that cannot be known."""
    if not os.path.isdir("/proc/self/fd"):
        return None
    held = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            with contextlib.suppress(OSError):
                held.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
    return held


def remove_stale_temps(directory) -> list[Path]:
    """Delete this host's temp files in ``directory`` whose writer process no longer exists.

    Also the ``mkstemp`` temps of earlier grokviz versions (``.NAME.XXXXXXXX.tmp``, no pid in
    the name) next to an existing NAME: on Linux, those that no process holds open; elsewhere
    they are left alone.
    """
    removed, legacy = [], []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP.match(entry.name)
        if not match:
            old = _LEGACY_TEMP.match(entry.name)
            if old and entry.is_file(follow_symlinks=False) and os.path.exists(os.path.join(directory, old["name"])):
                legacy.append(entry.path)
            continue
        if match["host"] != _HOST or not entry.is_file(follow_symlinks=False):
            continue
        pid = int(match["pid"])
        if pid == os.getpid() or _alive(pid):
            continue
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
            removed.append(Path(entry.path))
    held = _open_files() if legacy else None
    for path in legacy if held is not None else []:
        if os.path.realpath(path) not in held:
            with contextlib.suppress(OSError):
                os.unlink(path)
                removed.append(Path(path))
    return removed


def payload_bytes(obj, _seen=None) -> int:
    """Estimated torch.save size of ``obj``: its tensors' bytes plus a per-tensor overhead."""
    seen = set() if _seen is None else _seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, dict):
        return sum(payload_bytes(v, seen) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(payload_bytes(v, seen) for v in obj)
    nbytes = getattr(obj, "nbytes", None)
    return int(nbytes) + PER_TENSOR_BYTES if isinstance(nbytes, int) else 0


def check_free_space(path, needed_bytes: int) -> None:
    """Raise SaveError when ``path``'s file system has less than ``needed_bytes`` (plus margin) free."""
    path = Path(path)
    needed = int(needed_bytes * (1 + SIZE_MARGIN_FRACTION)) + SIZE_MARGIN_BYTES
    try:
        free = shutil.disk_usage(_directory(path)).free
    except OSError as error:
        raise SaveError(path, describe_os_error(error)) from None
    if free < needed:
        raise SaveError(path, f"disk full: needs about {_size(needed)}, {_size(free)} free")


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


class _Guarded:
    """A file object that remembers the first OSError of a write (torch.save re-raises it as RuntimeError)."""

    def __init__(self, stream):
        self._stream, self.error = stream, None

    def write(self, data):
        try:
            return self._stream.write(data)
        except OSError as error:
            self.error = self.error or error
            raise

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb", expected_size: int | None = None):
    """Yield a file object; on success it atomically replaces ``path``, on error nothing changes.

    Killing the process at any moment leaves either the old file or the new one (and a temp
    file, removed by the next save here). Raises :class:`SaveError` for a write that fails.
    """
    path = Path(path)
    directory = _directory(path)
    remove_stale_temps(directory)
    if expected_size is not None:
        check_free_space(path, expected_size)
    temp = temp_name(path)
    try:
        handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    except OSError as error:
        raise SaveError(path, describe_os_error(error)) from None
    guarded = None
    try:
        with os.fdopen(handle, mode) as stream:
            guarded = _Guarded(stream)
            yield guarded
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
        temp = None
        with contextlib.suppress(OSError):  # make the rename itself durable
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    except SaveError:
        raise
    except OSError as error:
        raise SaveError(path, describe_os_error(error)) from None
    except Exception:
        if guarded is not None and guarded.error is not None:  # e.g. torch's "unexpected pos" after ENOSPC
            raise SaveError(path, describe_os_error(guarded.error)) from None
        raise
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)


def check_writable(path) -> None:
    """Raise OSError early (one line) if ``path`` cannot be created or replaced.

    Besides the permission bits, a probe file is created and removed in the directory: that is
    the only test that also catches pseudo file systems (``/proc``) and read-only mounts as root.
    """
    path = Path(path)
    if not str(path).strip():
        raise FileNotFoundError("the path is empty")
    directory = _directory(path)
    if path.is_dir():
        raise IsADirectoryError(f"{display_path(path)} is a directory")
    if directory.exists() and not directory.is_dir():
        raise NotADirectoryError(f"{display_path(directory)} is a file, not a directory")
    if not directory.is_dir():
        raise FileNotFoundError(f"directory {display_path(directory)} does not exist")
    if not os.access(directory, os.W_OK):
        raise PermissionError(f"directory {display_path(directory)} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise PermissionError(f"{display_path(path)} is not writable")
    probe = temp_name(path)
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as error:
        reason = describe_os_error(error)
        if error.errno == errno.ENOENT:  # the directory is there: a pseudo file system such as /proc
            reason = "this file system does not accept new files"
        problem = OSError(f"cannot create files in {display_path(directory)}: {reason}")
        problem.errno = error.errno
        raise problem from None
    with contextlib.suppress(OSError):
        os.unlink(probe)
