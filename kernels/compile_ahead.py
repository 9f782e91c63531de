"""Compile ahead: a warm-up's Triton compiles on a pool of threads instead of one after another.

Why: the engine's start-up warm-up (server/runner.py: tune_kernels, warm_up_attention) compiles ~95 kernel variants
on a machine whose Triton cache is empty (a fresh machine, a new container), 0.4-3 s each, one after another: the
start took 70.5 s on the H200 for the 7B-shaped sketch (benchmarks/NOTES.md, twenty-first session). Much of a
compile runs outside Python's lock (MLIR passes, LLVM, ptxas), so compiles overlap on threads.

How: inside `compile_ahead()`, every Triton launch only compiles: JITFunction.run is called with warmup=True
(compile, do not launch), under Triton's AsyncCompileMode, which hands each compile to the pool and returns at
once; a variant already submitted in the block is not submitted again. The autotuner submits every candidate of a
shape it has no choice for (kernels/autotune.py pick_config, `compiling_only`) and times nothing. Leaving the block
waits for every compile. The same calls then run for real outside it and find their kernels compiled. Outputs
written inside the block are garbage (nothing ran): the block is for warm-up calls only, never a CUDA graph
capture. Other threads' launches meanwhile run as usual (the
compile-only flag and Triton's async mode are context variables of the thread that entered the block).

A compile that fails inside the block is dropped (ignore_errors): the real pass compiles it again and meets the
error where it always did. Off (the block's calls run as usual, yielding False) under the interpreter, where this
Triton has no AsyncCompileMode, or with SKETCHSERVE_COMPILE_THREADS <= 1.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar

from kernels.triton_common import interpreting

_COMPILE_ONLY: ContextVar[bool] = ContextVar("sketchserve_compile_only", default=False)
# Measured at 16 on the H200 machine (16 cores; NOTES.md, twenty-second session). Each compile in flight holds
# LLVM's and ptxas's memory (up to a few hundred MB), so more threads are not free on a large host either.
MAX_THREADS = 16


def compiling_only() -> bool:
    """Whether launches only compile now (inside compile_ahead): kernels.autotune then submits every candidate
    and times none."""
    return _COMPILE_ONLY.get()


def compile_threads() -> int:
    """Threads of a compile_ahead block: SKETCHSERVE_COMPILE_THREADS, else min(cores, MAX_THREADS)."""
    env = os.environ.get("SKETCHSERVE_COMPILE_THREADS")
    if env is not None:
        try:
            return int(env)
        except ValueError:
            raise ValueError(f"SKETCHSERVE_COMPILE_THREADS must be an integer, got {env!r}") from None
    return min(os.cpu_count() or 1, MAX_THREADS)


def _async_compile_mode():
    """Triton's AsyncCompileMode class, if this Triton has it and its JITFunction.run takes `warmup`; else None."""
    try:
        from triton.runtime import _async_compile
        from triton.runtime.jit import JITFunction
    except ImportError:
        return None
    mode = getattr(_async_compile, "AsyncCompileMode", None)
    if mode is None or "warmup" not in inspect.signature(JITFunction.run).parameters:
        return None
    return mode


@contextmanager
def compile_ahead(threads: int | None = None) -> Iterator[bool]:
    """Inside: Triton launches compile on `threads` threads (default compile_threads()) and run nothing; on exit,
    every compile has finished. Yields whether it is on; when off, the block's calls run as usual (so a caller that
    repeats them after the block should skip the block's pass)."""
    threads = compile_threads() if threads is None else threads
    mode = None if interpreting() or threads <= 1 else _async_compile_mode()
    if mode is None:
        yield False
        return
    from triton.runtime.jit import JITFunction

    original, original_compile = JITFunction.run, JITFunction._do_compile
    submitted: dict = {}  # (kernel, device, specialization key) -> what its first compile-only call returned

    def compile_only(self, *args, grid, warmup, **kwargs):  # only in the thread (context) that entered the block
        return original(self, *args, grid=grid, warmup=warmup or _COMPILE_ONLY.get(), **kwargs)

    def compile_once(self, key, signature, device, *args, **kwargs):
        """One compile per variant inside the block: the H200's Triton left a variant's kernel-cache entry empty
        until its compile ended, so each further call compiled again (its source hashed, the future shared: 67
        calls for one rms_norm variant at the engine's start, NOTES.md twenty-third session)."""
        if not _COMPILE_ONLY.get():
            return original_compile(self, key, signature, device, *args, **kwargs)
        variant = (id(self), device, key)  # (ids: a kernel object lives as long as the process)
        try:
            kernel = submitted.get(variant)
        except TypeError:  # a key this code cannot hash (another Triton): every call compiles, as before
            return original_compile(self, key, signature, device, *args, **kwargs)
        if kernel is None:
            kernel = submitted[variant] = original_compile(self, key, signature, device, *args, **kwargs)
        return kernel

    token = _COMPILE_ONLY.set(True)
    JITFunction.run, JITFunction._do_compile = compile_only, compile_once
    try:
        with ThreadPoolExecutor(threads, thread_name_prefix="triton-compile") as pool, mode(pool, ignore_errors=True):
            yield True
    finally:
        JITFunction.run, JITFunction._do_compile = original, original_compile
        _COMPILE_ONLY.reset(token)
