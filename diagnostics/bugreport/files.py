"""The files of a bug-report, from a tar archive or an unpacked folder, read within bounds.

Both give the same `File` list, so translation never knows where bytes come from. A folder is
held to the archive's rules: regular files only (a symbolic link is refused, never followed),
at most `limits.members` files, each at most `limits.member_bytes`, all together at most
`limits.total_bytes`. Reading a member is bounded too: `read_head` stops at its limit and
`log_parts` keeps only a log's last bytes, whatever the member's size.
"""

from __future__ import annotations

import os
import tarfile
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable

from diagnostics.bugreport.layout import PREVIOUS_LOG, PREVIOUS_PRESENT
from diagnostics.snapshot import MIB, ArchiveLimits, SnapshotError, member_problem

BLOCK = 256 * 1024


@dataclass(frozen=True)
class File:
    """One regular file: its path below the archive or folder (`/`-separated)."""

    path: str
    size: int
    mtime: float
    open: Callable[[], IO[bytes]]


def normalized(name: str) -> str:
    """A member name as a relative path: `./bug-report/x` and `bug-report//x` read the same."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    return "/".join(parts)


def tar_files(tar: tarfile.TarFile, members: list[tarfile.TarInfo]) -> list[File]:
    """The regular files of an archive whose headers were already checked."""
    def opener(member: tarfile.TarInfo) -> Callable[[], IO[bytes]]:
        def open_member() -> IO[bytes]:
            stream = tar.extractfile(member)
            if stream is None:  # a regular file always has a stream; be explicit anyway
                raise SnapshotError(f"archive member {member.name!r} cannot be read")
            return stream
        return open_member

    return [File(normalized(m.name), m.size, float(m.mtime), opener(m))
            for m in members if m.isfile()]


def folder_files(folder: Path, limits: ArchiveLimits) -> list[File]:
    """The regular files below `folder`, refused like an archive's members when a limit is
    passed or a file is a link or a device."""
    files: list[File] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink():
                raise SnapshotError(member_problem(rel, "a symbolic link") or "", folder)
            if name in dirnames:
                continue
            if not path.is_file():
                raise SnapshotError(member_problem(rel, "a device or FIFO") or "", folder)
            st = path.stat()
            total += st.st_size
            files.append(File(rel, st.st_size, st.st_mtime, lambda p=path: p.open("rb")))
            _within(folder, rel, len(files), st.st_size, total, limits)
    return files


def _within(folder: Path, rel: str, count: int, size: int, total: int,
            limits: ArchiveLimits) -> None:
    if count > limits.members:
        raise SnapshotError(f"folder holds more than {limits.members:,} files", folder)
    if size > limits.member_bytes:
        raise SnapshotError(f"file {rel[:200]!r} is {size / MIB:,.0f} MiB; a file may have at "
                            f"most {limits.member_bytes // MIB:,} MiB", folder)
    if total > limits.total_bytes:
        raise SnapshotError(f"folder holds more than {limits.total_bytes // MIB:,} MiB", folder)


def read_head(file: File, limit: int) -> bytes | None:
    """The whole file, or None when it is larger than `limit` (it is not read then)."""
    if file.size > limit:
        return None
    with file.open() as stream:
        return stream.read(limit + 1)[:limit]


def peek(file: File, size: int) -> bytes:
    """The first `size` bytes of the file."""
    with file.open() as stream:
        return stream.read(size)


class _Tail:
    """The last `limit` bytes of what was added."""

    def __init__(self, limit: int):
        self.limit, self.size, self.total, self.parts = limit, 0, 0, deque[bytes]()

    def add(self, data: bytes) -> None:
        if not data:
            return
        self.parts.append(data)
        self.size += len(data)
        self.total += len(data)
        while self.size - len(self.parts[0]) >= self.limit:
            self.size -= len(self.parts.popleft())

    def value(self) -> bytes:
        data = b"".join(self.parts)
        return data[-self.limit:] if len(data) > self.limit else data

    @property
    def cut(self) -> bool:
        return self.total > self.limit


def log_parts(file: File, limit: int) -> tuple[bytes, bytes | None, bool]:
    """A bug-report log as the tails of its current run and of its previous run (None when the
    container did not restart), read as a stream; and whether anything was cut."""
    present, marker = PREVIOUS_PRESENT.encode(), PREVIOUS_LOG.encode()
    current, previous = _Tail(limit), _Tail(limit)
    with file.open() as stream:
        head = stream.read(len(present))
        if head != present:
            current.add(head)
            while chunk := stream.read(BLOCK):
                current.add(chunk)
            return current.value(), None, current.cut
        carry, target = b"", current
        while chunk := stream.read(BLOCK):
            if target is previous:
                previous.add(chunk)
                continue
            data = carry + chunk
            at = data.find(marker)
            if at >= 0:
                current.add(data[:at])
                previous.add(data[at + len(marker):])
                target = previous
                continue
            keep = len(marker) - 1
            current.add(data[:-keep])
            carry = data[-keep:]
        if target is current:
            current.add(carry)
            return current.value(), None, current.cut
    return current.value(), previous.value(), current.cut or previous.cut
