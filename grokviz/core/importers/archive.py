"""Checks of a file's container before torch reads it (issue 18): sizes against the file's real
size, the pickle dry-run (:mod:`.pickle_scan`), and zip CRCs.

torch's zip format is an uncompressed zip: ``PREFIX/data.pkl`` (the structure) plus one record
``PREFIX/data/KEY`` per storage. Before ``torch.load``:

* every record must lie inside the file, and a compressed one may expand to at most
  ``budgets.MAX_INFLATION`` × the file's size (a zip bomb cannot make torch allocate GBs);
* ``data.pkl`` is read (its CRC checked) and dry-run; each storage it references must exist and
  hold exactly the bytes its reference declares.

The legacy (pre-1.6, non-zip) format is a run of pickles followed by raw storages; the pickles
are dry-run and the storages they declare must fit in the file. Tar-era files are refused.
"""

from __future__ import annotations

import mmap
import struct
import zipfile
import zlib
from pathlib import Path

from grokviz.core.importers import budgets
from grokviz.core.importers.pickle_scan import PickleRefused, scan_pickle

ZIP_MAGIC = b"PK\x03\x04"
LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C  # torch.serialization.MAGIC_NUMBER
_CRC_CHUNK = 1 << 22
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # zip local file header: ..., name length, extra length


class ArchiveRefused(Exception):
    """One-line reason a file is refused before torch reads it."""


def _size(count: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def precheck(path: Path, extra_classes=frozenset(), extra_functions=frozenset()) -> str:
    """Check ``path``'s container and dry-run its pickle; return ``"zip"`` or ``"legacy"``."""
    with open(path, "rb") as stream:
        head = stream.read(512)
    if head.startswith(ZIP_MAGIC):
        _check_zip(path, extra_classes, extra_functions)
        return "zip"
    if len(head) >= 262 and head[257:262] == b"ustar":
        raise ArchiveRefused("a tar archive (the pre-2018 torch format, or not a torch file), which grokviz does not read")
    _check_legacy(path, extra_classes, extra_functions)
    return "legacy"


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError, NotImplementedError):
        raise ArchiveRefused("not a valid torch file (truncated or corrupt zip archive)") from None


def _check_zip(path: Path, extra_classes, extra_functions) -> None:
    file_size = path.stat().st_size
    with _open_zip(path) as archive:
        infos = archive.infolist()
        if len(infos) > budgets.MAX_ZIP_ENTRIES:
            raise ArchiveRefused(f"a zip archive of {len(infos):,} records (limit budgets.MAX_ZIP_ENTRIES = {budgets.MAX_ZIP_ENTRIES:,})")
        records = {}
        expanded = 0
        for info in infos:
            if info.compress_type == zipfile.ZIP_STORED:
                if info.file_size != info.compress_size:
                    raise ArchiveRefused(f"not a valid torch file (record {info.filename[:80]} declares {info.file_size:,} bytes but stores {info.compress_size:,})")
            elif info.compress_type != zipfile.ZIP_DEFLATED:
                raise ArchiveRefused(f"a zip archive with compression method {info.compress_type}, which torch cannot read")
            if info.header_offset + info.compress_size > file_size:
                raise ArchiveRefused("not a valid torch file (truncated zip archive: a record ends after the file)")
            expanded += info.file_size
            records[info.filename] = info
        if expanded > budgets.MAX_INFLATION * file_size + (1 << 20):
            raise ArchiveRefused(
                f"its zip records expand to {_size(expanded)} from a {_size(file_size)} file "
                f"(a zip bomb; limit budgets.MAX_INFLATION = {budgets.MAX_INFLATION}×)"
            )
        pickles = [name for name in records if name.endswith("/data.pkl") and name.count("/") == 1]
        if not pickles:
            raise ArchiveRefused("a zip archive, but not a torch file (no data.pkl record inside)")
        pickle_name = pickles[0]
        prefix = pickle_name[: -len("data.pkl")]
        pickle_info = records[pickle_name]
        if pickle_info.file_size > budgets.MAX_PICKLE_BYTES:
            raise ArchiveRefused(
                f"its data.pkl is {_size(pickle_info.file_size)} (limit budgets.MAX_PICKLE_BYTES = {_size(budgets.MAX_PICKLE_BYTES)})"
            )
        data = _read_record(archive, pickle_info)
        seen: dict = {}

        def storage(key: str, nbytes: int, pid) -> None:
            declared = seen.get(key)
            if declared is not None:
                if declared != nbytes:
                    raise PickleRefused(f"not a valid torch file (storage {key[:40]} is declared as {declared:,} and {nbytes:,} bytes)")
                return
            info = records.get(f"{prefix}data/{key}")
            if info is None:
                raise PickleRefused(f"not a valid torch file (storage record data/{key[:40]} is missing)")
            if info.file_size != nbytes:
                raise PickleRefused(
                    f"storage data/{key[:40]} declares {nbytes:,} bytes but the archive holds {info.file_size:,} "
                    "(the file is truncated or altered)"
                )
            seen[key] = nbytes

        try:
            scan_pickle(data, storage=storage, extra_classes=extra_classes, extra_functions=extra_functions)
        except PickleRefused as error:
            raise ArchiveRefused(str(error)) from None


def _read_record(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        return archive.read(info)
    except zipfile.BadZipFile as error:
        if "CRC" in str(error):
            raise ArchiveRefused(f"record {info.filename[:80]} fails its zip CRC check: the file is corrupt") from None
        raise ArchiveRefused("not a valid torch file (truncated or corrupt zip archive)") from None
    except (zlib.error, EOFError, OSError, ValueError, NotImplementedError):
        raise ArchiveRefused("not a valid torch file (truncated or corrupt zip archive)") from None


def verify_zip_crcs(path: Path, skip=()) -> None:
    """Compare every record (except names ending in ``skip``) with its stored CRC-32: one read of
    the file. torch itself never checks them, so a flipped byte in tensor data loads silently.
    Stored records are checksummed in place through a memory map (no copies)."""
    with _open_zip(path) as archive, open(path, "rb") as stream:
        infos = [info for info in archive.infolist() if info.file_size and not info.filename.endswith(tuple(skip))]
        try:
            mapped = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            mapped = None
        try:
            for info in infos:
                crc = _stored_crc(mapped, info) if mapped is not None and info.compress_type == zipfile.ZIP_STORED else None
                if crc is None:
                    crc = _streamed_crc(archive, info)
                if crc != info.CRC:
                    raise ArchiveRefused(f"record {info.filename[:80]} fails its zip CRC check: the file is corrupt (a changed byte)")
        finally:
            if mapped is not None:
                mapped.close()


def _stored_crc(mapped, info: zipfile.ZipInfo) -> int | None:
    """CRC-32 of a stored record's bytes, located through its local header (None: malformed)."""
    header = info.header_offset
    if header + _LOCAL_HEADER.size > len(mapped):
        return None
    fields = _LOCAL_HEADER.unpack_from(mapped, header)
    if fields[0] != b"PK\x03\x04":
        return None
    start = header + _LOCAL_HEADER.size + fields[-2] + fields[-1]
    if start + info.file_size > len(mapped):
        raise ArchiveRefused("not a valid torch file (truncated zip archive: a record ends after the file)")
    with memoryview(mapped)[start : start + info.file_size] as view:
        return zlib.crc32(view)


def _streamed_crc(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> int:
    crc = 0
    try:
        with archive.open(info) as record:
            while chunk := record.read(_CRC_CHUNK):
                crc = zlib.crc32(chunk, crc)
    except zipfile.BadZipFile as error:  # zipfile compares the CRC itself at the end of the record
        if "CRC" in str(error):
            return crc ^ 1 if crc == info.CRC else crc
        raise ArchiveRefused("not a valid torch file (truncated or corrupt zip archive)") from None
    except (zlib.error, EOFError, OSError, ValueError, NotImplementedError):
        raise ArchiveRefused("not a valid torch file (truncated or corrupt zip archive)") from None
    return crc


def _check_legacy(path: Path, extra_classes, extra_functions) -> None:
    """The legacy format: magic number, protocol, system info, the data pickle, storage keys."""
    file_size = path.stat().st_size
    with open(path, "rb") as stream:
        data = stream.read(min(file_size, budgets.MAX_PICKLE_BYTES))
    declared: dict = {}

    def storage(key, nbytes, pid) -> None:
        declared[key] = max(declared.get(key, 0), nbytes)
        if sum(declared.values()) > file_size:
            raise PickleRefused(f"declares {_size(sum(declared.values()))} of tensor data in a {_size(file_size)} file")

    try:
        magic, pos = scan_pickle(data, 0, extra_classes=extra_classes, extra_functions=extra_functions,
                                 wide_ints={LEGACY_MAGIC_NUMBER})
    except PickleRefused as error:
        if error.malformed:
            raise ArchiveRefused("not a torch file (unrecognised content)") from None
        raise ArchiveRefused(str(error)) from None
    if magic != LEGACY_MAGIC_NUMBER:
        raise ArchiveRefused("a plain pickle, not a torch file (grokviz reads files written by torch.save)")
    try:
        for index in range(4):  # protocol version, system info, the data, the storage keys
            _, pos = scan_pickle(data, pos, storage=storage if index == 2 else None,
                                 extra_classes=extra_classes, extra_functions=extra_functions)
    except PickleRefused as error:
        raise ArchiveRefused(str(error)) from None
