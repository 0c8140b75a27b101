"""Keep glibc's allocator from handing training memory back to the kernel.

A training step allocates and frees the same few dozen tensors every step,
many above glibc's default mmap threshold of 128 KiB. glibc then maps each
one fresh and unmaps it on free, or trims the top of its heap, so the next
step faults every page in again. At 64 members that cost about a tenth of
the step. Raising the mmap and trim thresholds lets freed blocks be reused.
The price is that the process keeps its peak heap until it exits.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

# From glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# glibc's largest accepted mmap threshold on 64-bit systems.
_MMAP_THRESHOLD = 32 * 2**20
_TRIM_THRESHOLD = 2**30


@functools.cache
def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; return whether it took effect.

    Does nothing, and returns False, where the C library has no ``mallopt``.
    """
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    mapped = mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
    return bool(mapped and mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))


def is_out_of_memory(error: BaseException) -> bool:
    """Tell whether ``error`` is Python's, numpy's or torch's failure to allocate memory."""
    if isinstance(error, MemoryError):
        return True
    # torch's CPU allocator raises RuntimeError: "... DefaultCPUAllocator: can't allocate memory ...".
    return isinstance(error, RuntimeError) and "allocate" in str(error)
