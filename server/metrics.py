"""Prometheus metrics: the edge where the engine's plain-data stats become exported series.

Per-request series are observed by the HTTP layer when a request ends (it knows the task is a stored one: an
unknown task id never becomes a label). Engine-wide gauges and counters are read from `engine.stats()` at
scrape time by a custom collector, so the core never imports prometheus.

Names (all prefixed `sketchserve_`), documented in the README:
    request_latency_seconds{task}        histogram  arrival -> last token
    time_to_first_token_seconds{task}    histogram  arrival -> first token
    time_per_output_token_seconds{task}  histogram  (latency - ttft) / (completion tokens - 1)
    queue_wait_seconds{task}             histogram  arrival -> first scheduled
    requests_total{task,status}          counter    status: stop, length, cancelled, error, timeout
    rejected_requests_total{reason}      counter    4xx/5xx before a request reached the engine (no task label)
    prompt_tokens_total{task}            counter
    generation_tokens_total{task}        counter
    requests_running, requests_waiting   gauge
    batch_size, batch_distinct_tasks     histogram  per engine step
    decode_steps_per_step                histogram  per engine step: model steps it ran (multi-step decoding > 1)
    kv_blocks_used, kv_blocks_total, kv_blocks_cached   gauge
    prefix_cache_queries_total, prefix_cache_hits_total   counter   tokens of starting requests, and of those
                                         found in the prefix cache
    gpu_memory_allocated_bytes, gpu_memory_reserved_bytes   gauge
    lut_pool_slots_used, lut_pool_slots_total, lut_tasks_resident   gauge
    lut_pool_hits_total, lut_pool_misses_total, lut_pool_evictions_total, lut_load_failures_total   counter
    lut_load_seconds                     summary    disk/CPU tier -> pool slot
    int8_exact_steps_total               counter    the int8 activation mode's steps run exact (a task's LUT beyond
                                         int8_max_lut_distance of the base's, or not measured yet)
    autotune_shapes_total, autotune_seconds_total   counter   kernel shapes tuned by this process, and the
                                         seconds it took (compiles included; 0 once the choices are cached)
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily

from kernels import autotune

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60, 120, 300)
TOKEN_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.5)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
DECODE_STEP_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


class ServerMetrics:
    """All series of one server, in their own registry (tests build several apps in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._scrape = threading.Lock()  # one scrape at a time: its stats reading is shared by its parts
        r = self.registry
        self.request_latency = Histogram(
            "sketchserve_request_latency_seconds", "Request latency, arrival to last token", ["task"],
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.ttft = Histogram(
            "sketchserve_time_to_first_token_seconds", "Time to first token", ["task"],
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.tpot = Histogram(
            "sketchserve_time_per_output_token_seconds", "Time per output token after the first", ["task"],
            buckets=TOKEN_BUCKETS, registry=r,
        )
        self.queue_wait = Histogram(
            "sketchserve_queue_wait_seconds", "Arrival to first scheduled step", ["task"],
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.requests = Counter("sketchserve_requests", "Finished requests by status", ["task", "status"], registry=r)
        self.rejected = Counter(
            "sketchserve_rejected_requests", "Requests refused before reaching the engine", ["reason"], registry=r
        )
        self.prompt_tokens = Counter("sketchserve_prompt_tokens", "Prompt tokens", ["task"], registry=r)
        self.generation_tokens = Counter("sketchserve_generation_tokens", "Generated tokens", ["task"], registry=r)
        self.constrained = Counter(
            "sketchserve_constrained_requests", "Requests asking for a constrained output or tool calls (as parsed)",
            ["kind"], registry=r,
        )  # kind: json_object, json_schema, guided_choice, guided_regex, tools_auto, tools_required, tools_named
        self.batch_size = Histogram(
            "sketchserve_batch_size", "Sequences per engine step", buckets=BATCH_BUCKETS, registry=r
        )
        self.batch_tasks = Histogram(
            "sketchserve_batch_distinct_tasks", "Distinct tasks per engine step", buckets=BATCH_BUCKETS, registry=r
        )
        self.decode_steps = Histogram(
            "sketchserve_decode_steps_per_step", "Model steps per engine step (multi-step decoding runs several)",
            buckets=DECODE_STEP_BUCKETS, registry=r,
        )
        self._steps_seen = 0
        self._engine: _EngineCollector | None = None

    def observe_request(
        self,
        task: str,
        status: str,
        latency_s: float,
        ttft_s: float | None,
        queue_wait_s: float | None,
        prompt_tokens: int,
        completion_tokens: int,
    ) -> None:
        """One finished request of a known task."""
        self.requests.labels(task, status).inc()
        self.request_latency.labels(task).observe(latency_s)
        self.prompt_tokens.labels(task).inc(prompt_tokens)
        self.generation_tokens.labels(task).inc(completion_tokens)
        if ttft_s is not None:
            self.ttft.labels(task).observe(ttft_s)
            if completion_tokens > 1:
                self.tpot.labels(task).observe(max(latency_s - ttft_s, 0.0) / (completion_tokens - 1))
        if queue_wait_s is not None:
            self.queue_wait.labels(task).observe(queue_wait_s)

    def reject(self, reason: str) -> None:
        self.rejected.labels(reason).inc()

    def attach_engine(self, stats: Callable[[], object]) -> None:
        """Export engine-wide series, read from stats() (an EngineStats) at every scrape."""
        self._engine = _EngineCollector(stats, self)
        self.registry.register(self._engine)

    def render(self) -> bytes:
        """The exposition text. The engine's stats are read once a scrape: the per-step histograms are fed the steps
        run since the last scrape first (the registry writes them before it collects the engine's series), and the
        engine's series come from the same reading."""
        if self._engine is None:
            return generate_latest(self.registry)
        with self._scrape:
            self._engine.read_stats()
            try:
                return generate_latest(self.registry)
            finally:
                self._engine.snapshot = None


class _EngineCollector:
    def __init__(self, stats: Callable[[], object], metrics: ServerMetrics) -> None:
        self._stats, self._metrics = stats, metrics
        self.snapshot = None  # this scrape's EngineStats (render), else read at collect()

    def describe(self):  # no fixed description: the registry then calls collect() lazily
        return []

    def collect(self):
        s = self.snapshot if self.snapshot is not None else self._stats()
        if s is None:  # the model is still loading
            return
        pool = s.pool
        yield _gauge("requests_running", "Requests running", s.running)
        yield _gauge("requests_waiting", "Requests waiting", s.waiting)
        yield _gauge("kv_blocks_used", "KV cache blocks in use", s.kv_blocks_used)
        yield _gauge("kv_blocks_total", "KV cache blocks", s.kv_blocks_total)
        yield _gauge("kv_blocks_cached", "KV cache blocks holding a reusable prefix", s.kv_blocks_cached)
        yield _counter("prefix_cache_queries", "Tokens of starting requests looked up in the prefix cache",
                       s.prefix_cache_query_tokens_total)  # fmt: skip
        yield _counter("prefix_cache_hits", "Tokens found in the prefix cache (not recomputed)",
                       s.prefix_cache_hit_tokens_total)  # fmt: skip
        yield _counter("int8_exact_steps", "Steps of the int8 activation mode run exact: a task's LUT lay beyond "
                       "int8_max_lut_distance of the base's, or was not measured yet",
                       s.int8_exact_steps_total)  # fmt: skip
        yield _gauge("lut_pool_slots_used", "LUT pool slots holding a LUT set", pool.slots_used)
        yield _gauge("lut_pool_slots_total", "LUT pool slots", pool.slots_total)
        yield _gauge("lut_pool_pins", "Requests holding a LUT slot", pool.pins)
        yield _gauge("lut_tasks_resident", "Tasks resident in the pool (base excluded)", pool.tasks_resident)
        yield _counter("lut_pool_hits", "LUT pool hits", pool.hits)
        yield _counter("lut_pool_misses", "LUT pool misses (loads started)", pool.misses)
        yield _counter("lut_pool_evictions", "LUT pool evictions", pool.evictions)
        yield _counter("lut_load_failures", "LUT loads that failed", pool.load_failures)
        loads = pool.loads_completed
        summary = SummaryMetricFamily("sketchserve_lut_load_seconds", "LUT load latency, miss to slot ready")
        summary.add_metric([], count_value=loads, sum_value=pool.load_seconds_total)
        yield summary
        tuning = autotune.tuning_stats()
        yield _counter("autotune_shapes", "Kernel shapes autotuned by this process", tuning["keys"])
        yield _counter("autotune_seconds", "Seconds this process spent autotuning kernels", tuning["seconds"])
        allocated, reserved = _gpu_memory()
        yield _gauge("gpu_memory_allocated_bytes", "GPU memory allocated by torch", allocated)
        yield _gauge("gpu_memory_reserved_bytes", "GPU memory reserved by torch's allocator", reserved)

    def read_stats(self) -> None:
        """Read the engine's stats for this scrape (snapshot) and feed the per-step histograms with the steps run
        since the last scrape (at most the stats window)."""
        s = self.snapshot = self._stats()
        if s is None:  # the model is still loading
            return
        m = self._metrics
        total = s.steps_total
        new = min(total - m._steps_seen, len(s.recent_steps))
        for step in s.recent_steps[len(s.recent_steps) - new :] if new > 0 else []:
            m.batch_size.observe(step.batch_size)
            m.batch_tasks.observe(step.num_tasks)
            m.decode_steps.observe(step.decode_steps)
        m._steps_seen = total


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"sketchserve_{name}", doc, value=value)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(f"sketchserve_{name}", doc, value=value)


def _gpu_memory() -> tuple[int, int]:
    import torch

    if not torch.cuda.is_available():
        return 0, 0
    return torch.cuda.memory_allocated(), torch.cuda.memory_reserved()
