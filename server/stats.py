"""What Engine.stats() reports: plain dataclasses; prometheus lives at the edge (server/metrics.py)."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.pool import PoolStats


@dataclass
class StepStats:
    """One engine step."""

    batch_size: int  # sequences in the step
    num_tasks: int  # distinct LUT slots in the step
    prefill_tokens: int
    decode_tokens: int  # all of a multi-step decode's tokens
    duration_s: float  # from the step's start, or from the plan before's read-back if later (overlapped plans):
    # consecutive steps' durations add up to the wall time
    decode_steps: int = 1  # model steps the plan ran (multi-step decoding: its decodes several times)


@dataclass
class RequestEvent:
    """A finished request's timings. `id` grows by one per event: exporters remember the last id they saw."""

    id: int
    request_id: str
    task: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    queue_wait_s: float | None
    ttft_s: float | None
    e2e_s: float
    preemptions: int


@dataclass
class EngineStats:
    """A snapshot for /metrics and /health (plain data; prometheus lives in the HTTP layer)."""

    running: int
    waiting: int
    kv_blocks_used: int
    kv_blocks_total: int
    kv_blocks_cached: int  # blocks holding a reusable prefix (held by requests or idle)
    recent_steps: list[StepStats]
    pool: PoolStats
    request_events: list[RequestEvent]  # the last stats_window finished requests, oldest first
    requests_finished: int
    prompt_tokens_total: int
    generated_tokens_total: int
    preemptions_total: int
    steps_total: int  # steps run since start (recent_steps holds the last stats_window of them)
    prefix_cache_query_tokens_total: int  # tokens of requests as they started (or restarted after a preemption)
    prefix_cache_hit_tokens_total: int  # of which found in the prefix cache, not recomputed
    int8_exact_steps_total: int = 0  # int8 activation mode: steps run exact for a task far from the base
