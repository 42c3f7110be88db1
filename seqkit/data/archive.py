"""An archive's wanted members read in one streaming pass, within budgets counted as it goes (for
:func:`seqkit.data.download.extracted`).

An archive is data from a server: what a tar unpacks to (the members walked past, their headers and the files
extracted alike) counts against a byte budget and its members against a member budget, each checked as it is read,
so a gzip bomb or a tar of millions of members is refused once it passes a budget, not after it was read whole.
"""

from __future__ import annotations

import bz2
import gzip
import io
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from seqkit.data import DataError

try:
    from lzma import LZMAError, LZMAFile
except ImportError:  # a Python built without liblzma: tarfile reads no .xz archive at all
    LZMAError = tarfile.TarError  # type: ignore[misc, assignment]
    LZMAFile = None  # type: ignore[misc, assignment]

# what a damaged or unusual archive raises while it is read: a broken deflate (zlib) or xz (lzma) stream, an
# encrypted zip (RuntimeError), a compression method zipfile lacks (NotImplementedError), a truncated member
DAMAGED = (
    tarfile.TarError,
    zipfile.BadZipFile,
    OSError,
    EOFError,
    KeyError,
    zlib.error,
    LZMAError,
    RuntimeError,
    NotImplementedError,
)


class Budget:
    """What extracting one archive may cost: bytes unpacked and members walked, each refused past its cap."""

    def __init__(self, archive: Path, max_bytes: int, max_members: int) -> None:
        self.archive, self.max_bytes, self.max_members = archive, max_bytes, max_members
        self.unpacked = self.extracted = self.members = 0

    def over_bytes(self) -> DataError:
        return DataError(
            f"{self.archive}: extracts to more than the cap of {self.max_bytes:,} bytes "
            "($SEQKIT_DOWNLOAD_MAX_BYTES; the members it holds besides those read count too); refused"
        )

    def read(self, size: int) -> None:
        """*size* more bytes of the unpacked archive were read."""
        self.unpacked += size
        if self.unpacked > self.max_bytes:
            raise self.over_bytes()

    def written(self, size: int) -> None:
        self.extracted += size
        if self.extracted > self.max_bytes:
            raise self.over_bytes()

    def counted(self, members: int) -> None:
        """*members* more members walked (or listed)."""
        self.members += members
        if self.members > self.max_members:
            raise DataError(
                f"{self.archive}: holds more than {self.max_members:,} members (the cap, "
                "$SEQKIT_EXTRACT_MAX_MEMBERS); refused"
            )

    def member_ends(self, ends_at: int) -> None:
        """A member to extract, whose data ends *ends_at* bytes into the unpacked archive: refused before its data
        is read where its header says so. (Only one to extract: a sparse member's header gives the size it unpacks
        to, and one walked past takes only its stored bytes.)"""
        if ends_at > self.max_bytes:
            raise self.over_bytes()


class _Metered(io.RawIOBase):
    """The unpacked bytes of an archive, counted against its :class:`Budget` as they are read. No read goes more
    than one byte past the cap: tarfile reads a pax or long-name header whole, whatever size it claims."""

    def __init__(self, stream: IO[bytes], budget: Budget) -> None:
        super().__init__()
        self.stream, self.budget = stream, budget

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        left = self.budget.max_bytes - self.budget.unpacked + 1
        block = self.stream.read(left if size is None or size < 0 else min(size, left))
        self.budget.read(len(block))
        return block

    def readinto(self, buffer: Any) -> int:
        block = self.read(len(buffer))
        buffer[: len(block)] = block
        return len(block)


def _unpacked(raw: IO[bytes]) -> IO[bytes]:
    """*raw*'s bytes decompressed as they are read (gzip, bzip2, xz; or as they are, for a plain tar)."""
    head = raw.read(6)
    raw.seek(0)
    if head.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if head.startswith(b"BZh"):
        return bz2.BZ2File(raw)
    if head.startswith(b"\xfd7zXZ\x00") and LZMAFile is not None:
        return LZMAFile(raw)
    return raw


def members(archive: Path, names: list[str], budget: Budget) -> Iterator[tuple[str, IO[bytes]]]:
    """``(name, its data)`` for each wanted member; each stream must be read before the next is asked for."""
    if zipfile.is_zipfile(archive):
        yield from _zip_members(archive, names, budget)
        return
    # "r|": a stream, read once front to back; tarfile asks the metered stream for every byte it walks past
    try:
        yield from _tar_members(archive, names, budget)
    except _HugeHeader as huge:
        raise DataError(
            f"{archive}: holds an extended header of {huge.args[0]:,} bytes (at most {MAX_HEADER:,}); refused"
        ) from None


def _tar_members(archive: Path, names: list[str], budget: Budget) -> Iterator[tuple[str, IO[bytes]]]:
    wanted, found = set(names), set()
    with (
        archive.open("rb") as raw,
        _unpacked(raw) as plain,
        tarfile.open(fileobj=_Metered(plain, budget), mode="r|", tarinfo=_Checked) as tar,
    ):
        for member in tar:
            budget.counted(1)
            name = Path(member.name).name
            if name not in wanted or member.isdir():
                continue  # skipped: the bytes it takes in the stream are counted as they are read past
            budget.member_ends(member.offset_data + member.size)
            if not member.isfile():
                raise DataError(f"{archive}: {member.name} is not a regular file (a link?); refused")
            found.add(name)
            yield name, tar.extractfile(member)  # a later member of the same name replaces it
    for name in names:
        if name not in found:
            raise DataError(f"{archive}: archive holds no {name}")


# A pax or GNU long-name header holds a name and a few attributes; tarfile reads one whole, whatever size it claims
MAX_HEADER = 1 << 20
_LONG_HEADERS = (
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
)


class _Checked(tarfile.TarInfo):
    """A member header, refused when it announces an extended header larger than :data:`MAX_HEADER`, before
    tarfile reads that header into memory (up to the byte cap, gigabytes, otherwise)."""

    def _proc_member(self, tar: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _LONG_HEADERS and self.size > MAX_HEADER:
            raise _HugeHeader(self.size)
        return super()._proc_member(tar)


class _HugeHeader(Exception):
    """What :class:`_Checked` refuses; :func:`members` names the archive."""


def _zip_entries(archive: Path) -> int | None:
    """The member count a zip's end record states (zip64's too), read before zipfile lists every member."""
    end_record = getattr(zipfile, "_EndRecData", None)  # zipfile's own reader of it; absent: no early count
    if end_record is None:
        return None
    with archive.open("rb") as stream:
        found = end_record(stream)
    return None if not found else int(found[zipfile._ECD_ENTRIES_TOTAL])


def _zip_members(archive: Path, names: list[str], budget: Budget) -> Iterator[tuple[str, IO[bytes]]]:
    # zipfile reads the central directory whole when it opens the archive, a ZipInfo per member: the count the end
    # record states is checked first
    stated = _zip_entries(archive)
    if stated is not None and stated > budget.max_members:
        budget.counted(stated)
    with zipfile.ZipFile(archive) as zipped:
        infos = zipped.infolist()
        budget.counted(len(infos))
        found = {Path(i.filename).name: i for i in infos if not i.is_dir()}
        for name in names:
            info = found.get(name)
            if info is None:
                raise DataError(f"{archive}: archive holds no {name}")
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise DataError(f"{archive}: {info.filename} is a symbolic link; refused")
            yield name, zipped.open(info)
