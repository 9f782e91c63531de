"""Kernel timing that the host's launch overhead cannot distort: CUDA-graph replays, L2 flushed before each call.

Eager timing (triton.testing.do_bench) records an event, makes one Python call and records another. When the
host needs longer to launch a call than the GPU needs to run it, the GPU waits for the host and the timing is
the host's. Our wrappers spend 15-150 us of Python per call depending on the machine's CPU, and the decode
kernels run 10-40 us, so eager timings of configs that differ by a few microseconds were mostly host noise (H200,
2026-11-30: a 13.7 us kernel timed 45-61 us eagerly). The server replays decode steps as CUDA graphs, so that is
how we time too: `reps` calls captured into one graph, each after a write of twice the L2 cache (the weights a
layer reads are never L2-resident when served: the model is ~100x the cache), minus a graph of the writes alone.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

import torch

_FLUSH_MS: dict[tuple[torch.device, int], float] = {}  # (device, reps) -> ms of a graph of the flushes alone


def _flush_bytes(device: torch.device) -> int:
    return 2 * (getattr(torch.cuda.get_device_properties(device), "L2_cache_size", 0) or 64 << 20)


def _replay_ms(body: Callable[[], None], rounds: int) -> float:
    """Median milliseconds of one replay of a graph of body (captured on a side stream, as torch requires)."""
    graph = torch.cuda.CUDAGraph()
    torch.cuda.synchronize()
    with torch.cuda.graph(graph, capture_error_mode="thread_local"):  # other threads (the LUT loader) may copy
        body()
    return replay_ms(graph, rounds)


def replay_ms(graph: torch.cuda.CUDAGraph, rounds: int) -> float:
    """Median milliseconds of one replay of a captured graph, each of `rounds` replays between two events."""
    graph.replay()  # the first replay uploads the graph
    torch.cuda.synchronize()
    times = []
    for _ in range(rounds):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        graph.replay()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def graph_time_ms(
    fn: Callable[[], object],
    reps: int = 20,
    rounds: int = 5,
    flush: bool = True,
    preceded_by: Callable[[], object] | None = None,
) -> float:
    """Milliseconds per call of fn's GPU work, replayed from a CUDA graph (fn runs once eagerly first: compiles,
    and raises here rather than inside a capture). flush: each call starts with a cold L2 cache. preceded_by: a call
    run just before each of fn's (after the flush), whose own time is not counted: fn's cost where it follows that
    work in a step (with PDL, fn's pre-wait part may overlap it)."""
    fn()
    if preceded_by is not None:
        preceded_by()
    device = torch.device("cuda", torch.cuda.current_device())
    # allocated per call, not kept: the server tunes after sizing its pools from free memory
    buffer = torch.empty(_flush_bytes(device) if flush else 0, dtype=torch.uint8, device=device)

    def calls(with_fn: bool) -> Callable[[], None]:
        def body() -> None:
            for _ in range(reps):
                if flush:
                    buffer.zero_()
                if preceded_by is not None:
                    preceded_by()
                if with_fn:
                    fn()

        return body

    total = _replay_ms(calls(True), rounds)
    if preceded_by is not None:
        return max(total - _replay_ms(calls(False), rounds), 0.0) / reps
    if not flush:
        return total / reps
    if (device, reps) not in _FLUSH_MS:
        _FLUSH_MS[device, reps] = _replay_ms(calls(False), rounds)
    return max(total - _FLUSH_MS[device, reps], 0.0) / reps
