"""The checksum grokviz run files carry over their tensors (issue 18).

torch never checks a zip's CRCs, so a flipped byte inside tensor data loads silently. A grokviz
file stores ``checksum = {"algorithm": ALGORITHM, "keys": [...], "crc32": N}``: the CRC-32 over
every tensor under the listed top-level keys, in the walk order of the saved structure, each
tensor preceded by its path, dtype and shape (so a tensor moved or reshaped is detected too).
Keys added later by other writers (not listed) are tolerated; a file without a checksum, from an
older grokviz, is checked with the zip CRCs instead (:func:`~.archive.verify_zip_crcs`).
"""

from __future__ import annotations

import zlib

import torch

from grokviz.core.errors import RunFileError

ALGORITHM = "crc32-tensors-v1"
KEY = "checksum"


def _tensors(value, where: str, seen: set):
    """(path, tensor) for every tensor under ``value``; each container visited once."""
    if isinstance(value, torch.Tensor):
        yield where, value
        return
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return
    if id(value) in seen:
        return
    seen.add(id(value))
    for name, item in items:
        if isinstance(item, (torch.Tensor, dict, list, tuple)):
            yield from _tensors(item, f"{where}/{name}", seen)


def tensor_crc(data: dict, keys) -> int:
    """CRC-32 of the tensors under ``data[key]`` for ``key`` in ``keys`` (see the module doc)."""
    crc = 0
    seen: set = set()
    for key in keys:
        for where, tensor in _tensors(data[key], str(key), seen):
            crc = zlib.crc32(f"{where}|{tensor.dtype}|{list(tensor.shape)}".encode(), crc)
            if tensor.layout != torch.strided or tensor.is_quantized or tensor.device.type != "cpu":
                continue  # no plain bytes (refused when loaded, see walk.tensor_problem)
            if tensor.numel():
                crc = zlib.crc32(tensor.detach().reshape(-1).contiguous().view(torch.uint8).numpy(), crc)
    return crc


def checksum_entry(data: dict) -> dict:
    """The ``checksum`` entry for a run dict (all of its other top-level keys)."""
    keys = [key for key in data if key != KEY]
    return {"algorithm": ALGORITHM, "keys": keys, "crc32": tensor_crc(data, keys)}


def verify_checksum(path, data: dict) -> bool:
    """Check ``data``'s checksum; False if it has none (an older file), RunFileError if wrong."""
    entry = data.get(KEY)
    if entry is None:
        return False
    if not isinstance(entry, dict) or entry.get("algorithm") != ALGORITHM:
        algorithm = entry.get("algorithm") if isinstance(entry, dict) else None
        shown = repr(algorithm[:40]) if isinstance(algorithm, str) else type(entry).__name__
        raise RunFileError(path, f"its checksum has an unknown form ({shown}); expected {ALGORITHM!r}")
    keys, expected = entry.get("keys"), entry.get("crc32")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys) or not isinstance(expected, int):
        raise RunFileError(path, "its checksum entry is malformed (keys must be names, crc32 an integer)")
    missing = [key for key in keys if key not in data]
    if missing:
        raise RunFileError(path, f"its checksum covers {missing[0][:40]!r}, which the file lacks: the file was altered")
    if tensor_crc(data, keys) != expected:
        raise RunFileError(
            path, "its tensor data does not match its checksum: the file was corrupted or altered after it was saved"
        )
    return True
