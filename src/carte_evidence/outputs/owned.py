"""Output folders and files that carte owns: never replace what a user made, never half-write.

A command writes only into a new folder or one holding its own marker file (``.carte-output``,
with the command and the version that wrote it). A non-empty folder without the marker, a marker
of another command, or an existing file that carte did not make is refused
(:class:`OutputRefused`) unless ``force``; the current folder, the package being read and their
parents are refused even then. The new output is written beside the target and put in place by
one rename, under a lock file (:class:`OutputBusy` when another run holds it too long); copies
left by a killed run are removed by the next one.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator

from carte_evidence.package.atomic import clean_stale, make_parent, replace_path, temp_beside

MARKER = ".carte-output"
LOCK_WAIT_SECONDS = 120.0  # how long a second run waits for the first; CARTE_LOCK_WAIT overrides


def _default_wait() -> float:
    try:
        return float(os.environ.get("CARTE_LOCK_WAIT", LOCK_WAIT_SECONDS))
    except ValueError:
        return LOCK_WAIT_SECONDS


class OutputRefused(Exception):
    """The output path holds something carte did not make (a usage error: exit 2)."""


class OutputBusy(Exception):
    """Another carte run is writing the same output."""


def _version() -> str:
    from carte_evidence import __version__

    return __version__


def read_marker(folder: Path) -> dict | None:
    """The marker of a folder carte wrote (``{"command", "version"}``), or None."""
    file = Path(folder) / MARKER
    if not file.is_file():
        return None
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"command": "?"}
    return data if isinstance(data, dict) else {"command": "?"}


def write_marker(folder: Path, command: str) -> None:
    (Path(folder) / MARKER).write_text(json.dumps({"command": command, "version": _version()}) + "\n", encoding="utf-8")


def _is_within(inner: Path, outer: Path) -> bool:
    try:
        inner.relative_to(outer)
        return True
    except ValueError:
        return False


def _check_not_protected(target: Path, protect: Iterable[Path]) -> None:
    resolved = target.resolve()
    for p in [Path.cwd(), *protect]:
        p = Path(p).resolve()
        if _is_within(p, resolved):
            raise OutputRefused(f"refusing to write to {target}: it holds {p} (the current folder or the data being read); choose a new folder")


def check_folder(target: Path, command: str, force: bool = False, accept: Callable[[str], bool] | None = None, protect: Iterable[Path] = ()) -> None:
    """Raise :class:`OutputRefused` unless ``command`` may replace the folder ``target``."""
    target = Path(target)
    _check_not_protected(target, protect)
    if force:
        return
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise OutputRefused(f"{target} exists and is not a folder written by `carte {command}`; choose another --out, or pass --force to replace it")
    if not target.is_dir():
        return
    marker = read_marker(target)
    if marker is not None:
        if marker.get("command") == command:
            return
        raise OutputRefused(f"{target} holds the output of `carte {marker.get('command')}`, not of `carte {command}`; choose another --out, or pass --force to replace it")
    entries = [e.name for e in target.iterdir()]
    if entries and not (accept and all(accept(e) for e in entries)):
        raise OutputRefused(f"{target} is not empty and was not written by carte (it has no {MARKER} file); "
                            f"its {len(entries)} entries would be replaced: choose a new folder, or pass --force to replace it")


def check_file(target: Path, command: str, force: bool = False, is_ours: Callable[[Path], bool] | None = None, protect: Iterable[Path] = ()) -> None:
    """Raise :class:`OutputRefused` unless ``command`` may replace the file ``target``."""
    target = Path(target)
    _check_not_protected(target, protect)
    if force or not (target.exists() or target.is_symlink()):
        return
    if target.is_dir() and not target.is_symlink():
        raise OutputRefused(f"{target} is a folder; `carte {command}` writes a single file: choose a file name for --out")
    if is_ours is None or target.is_symlink() or not is_ours(target):
        raise OutputRefused(f"{target} exists and was not written by `carte {command}`; choose another --out, or pass --force to replace it")


@contextmanager
def output_lock(target: Path, wait: float | None = None) -> Iterator[None]:
    """Hold the lock file of ``target`` (``.NAME.carte-lock`` beside it); wait up to ``wait`` seconds."""
    target = Path(target).absolute()
    wait = _default_wait() if wait is None else wait
    make_parent(target)
    lock = target.with_name(f".{target.name}.carte-lock")
    deadline = time.monotonic() + wait
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            if time.monotonic() >= deadline:
                raise OutputBusy(f"another carte run is writing {target} (lock {lock}); try again when it has finished") from None
            time.sleep(0.1)
            continue
        try:  # the holder before us may have removed the file: then lock the new one
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        try:
            os.unlink(lock)
        except FileNotFoundError:
            pass
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _link_or_copy(src: Path, dst: Path) -> None:
    """Keep ``src`` in the new output too: hard links (no copy of big zips) or, failing that, a copy."""
    def link(a, b):
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)

    if src.is_dir() and not src.is_symlink():
        shutil.copytree(src, dst, symlinks=True, copy_function=link)
    elif src.is_symlink():
        os.symlink(os.readlink(src), dst)
    else:
        link(src, dst)


@contextmanager
def owned_directory(target: str | Path, command: str, force: bool = False, keep: Callable[[str], bool] | None = None,
                    accept: Callable[[str], bool] | None = None, protect: Iterable[Path] = (), wait: float | None = None) -> Iterator[Path]:
    """Yield a temporary folder that becomes ``target`` (with the marker) when the block succeeds.

    ``keep(name)``: entries of the old folder that the command does not write and must carry over
    (``build`` keeps exports and release zips in ``dist/``). ``accept(name)``: entries a folder
    without marker may hold and still be written into.
    """
    target = Path(target).absolute()
    protect = list(protect)
    check_folder(target, command, force, accept, protect)
    with output_lock(target, wait):
        check_folder(target, command, force, accept, protect)  # again: another run may have written it
        clean_stale(target)
        tmp = temp_beside(target, directory=True)
        try:
            yield tmp
            write_marker(tmp, command)
            if keep is not None and target.is_dir() and not target.is_symlink():
                for entry in target.iterdir():
                    if keep(entry.name) and not (tmp / entry.name).exists():
                        _link_or_copy(entry, tmp / entry.name)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        replace_path(tmp, target)


@contextmanager
def owned_file(target: str | Path, command: str, force: bool = False, is_ours: Callable[[Path], bool] | None = None,
               protect: Iterable[Path] = (), wait: float | None = None) -> Iterator[Path]:
    """Yield a temporary file path that replaces ``target`` when the block succeeds."""
    target = Path(target).absolute()
    protect = list(protect)
    check_file(target, command, force, is_ours, protect)
    with output_lock(target, wait):
        check_file(target, command, force, is_ours, protect)
        clean_stale(target)
        tmp = temp_beside(target, directory=False)
        try:
            yield tmp
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        replace_path(tmp, target)
