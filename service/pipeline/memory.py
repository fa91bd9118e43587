"""Giving freed memory back to the system between the big steps of a run.

glibc keeps freed blocks below its mmap threshold in the heap and in each thread's arena, so a
step's temporaries (a plan's small fields, a detector's strips, a fill's crops) would otherwise
be carried into the next full-size peak. The merge and the damage repair call this before
their peaks.
"""

from __future__ import annotations

import contextlib
import ctypes


def release_memory() -> None:
    """Hand freed heap memory back to the system (glibc only; elsewhere nothing to do)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
