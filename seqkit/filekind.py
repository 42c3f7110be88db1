"""What kind of thing a path names, in words: for errors about a path that should be a file or a folder.

Checked before anything opens a path a user gave: opening a named pipe for reading waits for a writer forever,
and a device (``/dev/zero``) may never end, so "found a named pipe" is said instead.
"""

from __future__ import annotations

import os
import stat

_KINDS = (
    (stat.S_ISREG, "a regular file"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def kind_of(mode: int) -> str:
    """The kind of file ``st_mode`` *mode* describes: ``"a named pipe (FIFO)"``, ``"a directory"``, ..."""
    for test, kind in _KINDS:
        if test(mode):
            return kind
    return "something that is not a regular file"


def special(path: str | os.PathLike[str]) -> str | None:
    """The kind of *path* (links followed) when it exists but is neither a regular file nor a directory, else None."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):  # missing, unreadable, a NUL in the name: the caller's "not found" says enough
        return None
    return None if stat.S_ISREG(mode) or stat.S_ISDIR(mode) else kind_of(mode)
