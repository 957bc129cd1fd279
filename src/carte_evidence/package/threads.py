"""How a validation runs: its threads (how many, and the two ways work is handed to them), and
Python's cycle collector paused meanwhile. Light to import: `carte validate` uses it before
pandas is loaded.

A validation reads and checks its tables independently, and most of that work runs in pyarrow
and numpy, which release the GIL: on two cores the two largest tables take about the time of
one. On a small package the work is mostly pandas' per-call overhead, which holds the GIL, and
one thread is faster.
"""

from __future__ import annotations

import gc
import os
from contextlib import contextmanager
from pathlib import Path

PARALLEL_BYTES = 8 << 20  # below this much CSV, threads cost more than they save (GIL contention)


def file_size(path: Path) -> int:
    """Bytes of a file (0 when it cannot be read: its problem is reported elsewhere)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def workers(csv_bytes: int | None = None) -> int:
    """Threads a validation uses: one per core, at most 2, and 1 for a package under
    ``PARALLEL_BYTES`` of CSV (``CARTE_THREADS`` overrides both)."""
    try:
        wanted = int(os.environ.get("CARTE_THREADS", "0"))
    except ValueError:
        wanted = 0
    if wanted > 0:
        return wanted
    if csv_bytes is not None and csv_bytes < PARALLEL_BYTES:
        return 1
    return max(1, min(2, os.cpu_count() or 1))


def in_threads(fn, items: list, size, threads: int) -> list:
    """``[fn(item) for item in items]``, run by ``threads`` threads, largest ``size`` first (so
    the large tables start together); results in the order of ``items``."""
    if threads == 1 or len(items) < 2:
        return [fn(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    order = sorted(range(len(items)), key=lambda i: -size(items[i]))
    with ThreadPoolExecutor(threads) as pool:
        futures = {i: pool.submit(fn, items[i]) for i in order}
        return [futures[i].result() for i in range(len(items))]


def in_background(fn, *args, threads: int | None = None):
    """Start ``fn(*args)`` in a thread (unless ``threads`` or :func:`workers` is 1); returns a
    function that waits for the result (or runs ``fn`` then)."""
    if (threads or workers()) == 1:
        return lambda: fn(*args)
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(1)
    future = pool.submit(fn, *args)
    pool.shutdown(wait=False)
    return future.result


@contextmanager
def gc_paused(freeze: bool = False):
    """Python's cycle collector off for a while (restored after).

    Validation allocates many objects (pandera's schemas, imports, the report) and frees them
    by reference counting; the collector's passes over the whole heap cost about 10% of a
    `carte validate` and find little. Cycles made meanwhile are collected once it is back on.

    ``freeze``: for a command that ends its process. What was made meanwhile is left to the
    process's end (``gc.freeze``) instead of being walked by the collector once when it is back
    on and again at exit: a report with a problem in every row is a million objects.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if enabled:
            gc.enable()


def release_memory() -> None:
    """Give the memory pyarrow has freed back to the system (its allocator keeps it otherwise, and
    numpy and pandas, which allocate elsewhere, cannot reuse it): keeps the peak down between
    the steps of a large validation."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
