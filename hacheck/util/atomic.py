"""Replace a file so that a crash leaves the old one or the new one, never half of either."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO


def replace_file(path: str, data: bytes, mode: int | None = None, prefix: str = ".hacheck-", fsync: bool = False) -> None:
    """Write `data` to a temp file in the same folder, then rename it over `path`.
    `mode` None gives what a plain open() would (0666 less the umask: mkstemp makes 0600,
    and reports are for others to read). Raises OSError; the temp file never stays behind."""
    with replacing(path, mode, prefix, fsync) as fh:
        fh.write(data)


@contextmanager
def replacing(path: str, mode: int | None = None, prefix: str = ".hacheck-", fsync: bool = False) -> Iterator[BinaryIO]:
    """replace_file for a writer that streams: what is written to the yielded file replaces
    `path` when the block ends, and nothing does if it raises."""
    # through a symlink to the file it names; into a device or FIFO directly (`-o /dev/null`):
    # renaming over either would replace the link or the device node with a plain file
    target = os.path.realpath(path)
    try:
        st = os.stat(target)
    except OSError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        with open(target, "wb") as fh:
            yield fh
        return
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=os.path.dirname(target))
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
