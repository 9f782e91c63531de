"""torch's CPU threads in a process with helper threads: keep the helpers' torch ops off OpenMP.

torch runs its CPU ops on an OpenMP team per calling thread (libgomp in the pip wheels). A team's workers spin
a while after each parallel region, which is what makes a decode step's hundreds of short matmuls fast: the next
region finds its workers awake. But libgomp counts every team's workers in the process, and once they outnumber
the CPUs it assumes oversubscription and cuts the spin to ~100 iterations, so the workers sleep between regions
and every region wakes them through the kernel. A helper thread that ran one large torch op (a LUT load's copy,
an upload's finiteness check) keeps its team for as long as it lives. On the 2-core dev CPU that alone took the
default model's batch-1 decode from 26 to 16.7 tok/s (benchmarks/NOTES.md, twenty-fourth session).

single_threaded_torch() makes the calling helper thread run its torch ops on itself (OpenMP's nthreads-var of
this thread set to 1): no team, no workers. The engine's thread keeps its team. Only for threads that do no
latency-critical compute: never the main thread or the engine's.

on_a_passing_thread(fn) runs set-up work (building the CPU engine) on a thread that ends with it, so the thread
that asked for it is left without a team.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from collections.abc import Callable
from typing import TypeVar

import torch

T = TypeVar("T")

_OPENMP_LIBRARIES = ("libgomp", "libiomp5", "libomp")
_MKL_LIBRARIES = ("libtorch_cpu", "libmkl_rt", "libmkl_core")  # MKL is linked into libtorch_cpu in the pip wheels


def _loaded_libraries() -> list[str]:
    """Paths of the shared libraries loaded into this process (Linux); [] elsewhere."""
    try:
        with open("/proc/self/maps") as f:
            return sorted({line.split()[-1] for line in f if ".so" in line.rsplit("/", 1)[-1]})
    except OSError:
        return []


def _library_with(symbol: str, prefixes: tuple[str, ...]) -> ctypes.CDLL | None:
    """A loaded library whose file name starts with one of prefixes and that exports symbol."""
    for path in _loaded_libraries():
        if path.rsplit("/", 1)[-1].startswith(prefixes):
            try:
                lib = ctypes.CDLL(path)  # already loaded: the same handle, nothing new initialized
            except OSError:
                continue
            if hasattr(lib, symbol):
                return lib
    return None


@functools.cache
def _openmp_runtime() -> ctypes.CDLL | None:
    """The OpenMP runtime torch's ops run on (libgomp in the pip wheels)."""
    return _library_with("omp_set_num_threads", _OPENMP_LIBRARIES)


@functools.cache
def _mkl() -> ctypes.CDLL | None:
    """The MKL torch's float32 matmuls run on, if it exports its per-thread setting."""
    return _library_with("MKL_Set_Num_Threads_Local", _MKL_LIBRARIES)  # the C name (lower case: Fortran's, int *)


def single_threaded_torch() -> bool:
    """Run the calling thread's torch CPU ops on this thread alone; True if the OpenMP runtime took it.

    Refuses (ValueError) on the main thread: its team is what the CLI, the tests and the benchmarks compute on."""
    if threading.current_thread() is threading.main_thread():
        raise ValueError("single_threaded_torch() is for helper threads, not the main thread")
    torch.get_num_threads()  # ATen's per-thread OpenMP set-up first: it would undo the setting below on first use
    runtime = _openmp_runtime()
    if runtime is None:
        return False
    runtime.omp_set_num_threads(1)  # ATen's and oneDNN's parallel regions in this thread
    mkl = _mkl()
    if mkl is not None:  # MKL keeps its own count, set process-wide by torch.set_num_threads; this one is per thread
        mkl.MKL_Set_Num_Threads_Local(1)
    return torch.get_num_threads() == 1


def on_a_passing_thread(fn: Callable[[], T], name: str = "torch-set-up") -> T:
    """fn() run on a new thread that ends when fn returns (its result returned, its exception raised here).

    For set-up work whose large torch ops would otherwise give the calling thread an OpenMP team for the rest of
    its life: a program's main thread that builds the CPU engine and then start()s it would keep a team beside the
    engine loop's, and the two would throttle each other. A team ends with its thread."""
    out: dict = {}

    def run() -> None:
        try:
            out["result"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the caller as it is
            out["error"] = e

    thread = threading.Thread(target=run, name=name)
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["result"]
