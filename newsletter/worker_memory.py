"""How long a worker process keeps memory it no longer uses: glibc's allocator told to hand
big blocks back when they are freed, and freed pages handed back after each task.

Measured in the day-at-scale benchmark: glibc raises its mmap threshold to the largest block
freed so far (up to 32 MB) and then keeps up to twice that free in the heap, so one
training chunk's or one scoring batch's temporaries left ~60 MB resident in each worker
for the rest of the day. Elsewhere than glibc (musl, macOS) both are no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

# mallopt(3) parameters.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# Blocks from this size on get their own mapping, returned to the system when freed; a
# fixed value also stops glibc from raising it (and the trim threshold) by itself.
MMAP_THRESHOLD_BYTES = 256 * 1024
TRIM_THRESHOLD_BYTES = 1024 * 1024


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def allocator_tune() -> bool:
    """For a worker process, once at its start; False where the allocator is not glibc's."""
    libc = _glibc()
    if libc is None:
        return False
    return bool(
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
        and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )


def freed_memory_release() -> bool:
    """Give the pages of freed heap memory back to the system (after a task: the next one
    gets them again as it needs them); True when some were."""
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
