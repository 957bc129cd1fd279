"""Atomic writes: a file or folder is written beside its target and put in place by one rename,
so that a reader (or a kill) never sees a half-written output, and bounded reads of input files."""

from __future__ import annotations

import ctypes
import os
import shutil
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

# The largest file carte reads (a CSV, datapackage.json): far above any real table (10^7 outcome
# rows are 1.7 GiB), far below a runaway file that would exhaust memory (validation holds about
# 3x the CSV). CARTE_MAX_READ_MB overrides it, e.g. on a small machine.
MAX_READ_BYTES = int(os.environ.get("CARTE_MAX_READ_MB", "4096")) * 1024 * 1024
TMP_TAG = ".carte-tmp-"
OLD_TAG = ".carte-old-"


class UnsafeRead(OSError):
    """A file that carte refuses to read (not a regular file, or too large)."""


def read_bounded(path: str | Path, limit: int = MAX_READ_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; raises :class:`UnsafeRead` otherwise.

    Guards against a resource pointing at a device (``/dev/zero``), a FIFO or a huge file.
    """
    path = Path(path)
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeRead(f"{path} is not a regular file")
    if info.st_size > limit:
        raise UnsafeRead(f"{path} is larger than {limit // (1024 * 1024)} MB")
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise UnsafeRead(f"{path} is larger than {limit // (1024 * 1024)} MB")
    return data


def _renameat2_exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def replace_path(new: Path, target: Path) -> None:
    """Put ``new`` (file or folder) at ``target``; an existing ``target`` is kept until ``new`` is in place.

    Where the system can swap two paths atomically, ``target`` is never missing; elsewhere the old
    target is renamed aside first (a window of one rename) and removed after.
    """
    new, target = Path(new), Path(target)
    if not target.exists() and not target.is_symlink():
        os.replace(new, target)
        return
    if new.is_dir() == target.is_dir() and not target.is_symlink() and _renameat2_exchange(new, target):
        _remove(new)  # now holds the old target
        return
    old = target.with_name(f".{target.name}{OLD_TAG}{os.getpid()}")
    _remove(old)
    os.replace(target, old)
    os.replace(new, target)
    _remove(old)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


def clean_stale(target: Path) -> list[Path]:
    """Remove temporary and old copies of ``target`` left by an interrupted run; returns them.

    Call it only while holding the target's lock (no other run is writing them then).
    """
    target = Path(target)
    if not target.parent.is_dir():
        return []
    stale = [p for p in target.parent.iterdir()
             if p.name.startswith(f".{target.name}{TMP_TAG}") or p.name.startswith(f".{target.name}{OLD_TAG}")]
    for p in stale:
        _remove(p)
    return stale


def make_parent(target: Path) -> None:
    """Create the parent folders of ``target`` with the normal permissions (umask), not 0700."""
    Path(target).parent.mkdir(parents=True, exist_ok=True)


def temp_beside(target: Path, directory: bool) -> Path:
    """A new temporary file or folder next to ``target`` (same file system, so one rename moves it)."""
    target = Path(target)
    make_parent(target)
    prefix = f".{target.name}{TMP_TAG}{os.getpid()}-"
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
        # mkdtemp makes 0700 folders; an output folder gets the usual permissions.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        return tmp
    fd, name = tempfile.mkstemp(prefix=prefix, dir=target.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(name, 0o666 & ~umask)
    return Path(name)


@contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``target`` only if the block succeeds.

    On any error the temporary folder is removed and ``target`` is left as it was. No ownership
    check: callers writing a user's ``--out`` use :mod:`carte_evidence.outputs.owned`.
    """
    target = Path(target).absolute()
    tmp = temp_beside(target, directory=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    replace_path(tmp, target)


@contextmanager
def atomic_file(target: str | Path, mode: str = "w") -> Iterator:
    """Open a temporary file beside ``target`` that replaces it only if the block succeeds."""
    target = Path(target)
    tmp = temp_beside(target, directory=False)
    try:
        binary = "b" in mode
        with open(tmp, mode, encoding=None if binary else "utf-8", newline=None if binary else "") as handle:
            yield handle
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
