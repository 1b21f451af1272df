"""Replace a folder by another in one step, so a reader (or a kill) sees the old or the new one.

On Linux, `renameat2(RENAME_EXCHANGE)` swaps the two paths atomically; the old contents end up in
the staging path and are removed afterwards. A first write is a plain `rename`. Where the call is
missing (other systems, file systems without exchange support) the fallback renames the old
folder aside and the new one in, which leaves a moment without the folder; the old one is then
restored on the next write (`recover`).
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
from pathlib import Path

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically; False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(second))


def replace_dir(staging: Path, target: Path) -> None:
    """Make `staging` the folder at `target`; the previous `target` (if any) is removed."""
    aside = target.with_name(f".{target.name}.previous")
    recover(target)
    if not target.exists():
        os.rename(staging, target)
        return
    if _exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)  # it now holds the old folder
        return
    os.rename(target, aside)
    os.rename(staging, target)
    shutil.rmtree(aside, ignore_errors=True)


def recover(target: Path) -> None:
    """Put back a folder the non-atomic fallback had moved aside when it was interrupted."""
    aside = target.with_name(f".{target.name}.previous")
    if aside.exists() and not target.exists():
        os.rename(aside, target)
    elif aside.exists():
        shutil.rmtree(aside, ignore_errors=True)
