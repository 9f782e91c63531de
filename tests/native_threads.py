"""The process's native threads, for tests that check which threads a piece of work leaves behind (OpenMP teams:
kernels/cpu_threads.py). Linux: /proc/self/task."""

from __future__ import annotations

import os
import threading


def threads_of_this_process() -> set[str]:
    """The native thread ids of this process, Python's and every library's."""
    return set(os.listdir("/proc/self/task"))


def non_python_threads_since(before: set[str]) -> set[str]:
    """Native threads started since `before` that are not Python threads: a library's workers (OpenMP's)."""
    return threads_of_this_process() - before - {str(t.native_id) for t in threading.enumerate()}
