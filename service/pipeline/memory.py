"""Giving freed memory back to the system between the big steps of a run, and knowing when a
full-size image may be written over instead of copied.

glibc keeps freed blocks below its mmap threshold in the heap and in each thread's arena, so a
step's temporaries (a plan's small fields, a detector's strips, a fill's crops) would otherwise
be carried into the next full-size peak. The merge and the damage repair call this before
their peaks.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys


def release_memory() -> None:
    """Hand freed heap memory back to the system (glibc only; elsewhere nothing to do)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def sole_reference(obj: object) -> bool:
    """True when the caller's one variable is the only reference left to `obj`: then nobody
    else can see it change, and its memory may take a result (a 600-dpi scan is 135 MB).

    Compared with a fresh object held by one local variable, measured the same way, so the
    interpreter's own temporary references cancel out.
    """
    probe = object()
    return sys.getrefcount(obj) <= sys.getrefcount(probe) + 1
