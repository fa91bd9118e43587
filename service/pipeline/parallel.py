"""The strip workers: a process-wide pool of two threads and an ordered map over it.

Pillow's C filters and transforms and numpy's large-array loops release the GIL, so two strips
of a big scan processed at once use both cores. Shared by the operations (`ops._common`) and by
the resampling both deskew and the replay of a chain's frame changes use (`resample`).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

STRIP_ROWS = 512
WORKERS = 2
T = TypeVar("T")
R = TypeVar("R")


def strips(height: int, rows: int = STRIP_ROWS) -> Iterator[tuple[int, int]]:
    """Row ranges covering `height`."""
    for y0 in range(0, height, rows):
        yield y0, min(height, y0 + rows)


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _strip_pool() -> ThreadPoolExecutor:
    """The process-wide strip workers. Long-lived on purpose: a fresh pool per operation means
    fresh threads, and each new thread's malloc arena keeps its own freed strip buffers."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="strip")
        return _pool


def in_background(fn: Callable[..., R], *args: object) -> Future[R]:
    """Run `fn(*args)` on a strip worker while the caller goes on (a detector beside other
    low-resolution work). The caller must collect the result before its own `ordered_map`."""
    return _strip_pool().submit(fn, *args)


def ordered_map(fn: Callable[[T], R], items: Iterable[T], ahead: int = 1) -> Iterator[R]:
    """Like `Executor.map` on the strip workers, with at most `ahead` jobs queued beyond the
    running ones. `Executor.map` submits every job at once, so finished strips pile up in memory
    while the consumer is busy (the first paste also copies the whole image).

    Jobs must not call `ordered_map` themselves: they would wait on the workers they occupy.
    """
    pool = _strip_pool()
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) > WORKERS + ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:  # on an error: drop what has not started, wait for the rest
            future.cancel()
        for future in pending:
            if not future.cancelled():
                future.exception()
