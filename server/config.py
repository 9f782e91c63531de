"""Run-time configuration of the serving core: one dataclass per topic, every field documented.

    EngineConfig
      ├── cache:     CacheConfig      paged KV cache (block size, memory budget)
      ├── pool:      PoolConfig       GPU LUT slot pool and its host-memory tier
      └── scheduler: SchedulerConfig  batch limits, prefill chunking, admission queue

The HTTP layer builds it from its pydantic Settings with `EngineConfig.from_settings`; tests build it directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from kernels.cpu_features import cpu_has_bf16_units

MiB = 1 << 20


@dataclass
class CacheConfig:
    """The paged KV cache, preallocated once at start-up."""

    block_size: int = 16
    """Tokens per KV block (the unit of allocation)."""
    kv_cache_bytes: int = 0
    """KV budget in bytes (keys and values of all layers). 0 = automatic: on CUDA `gpu_memory_fraction` of the
    memory left free after weights and the LUT pool; on the CPU 256 MiB."""
    gpu_memory_fraction: float = 0.85
    """Share of the free GPU memory the automatic KV budget may take (the rest is for activations, graphs)."""
    num_blocks: int = 0
    """Exact number of KV blocks, overriding the byte budget (tests use tiny values to force preemption)."""
    prefix_caching: bool = True
    """Keep computed full blocks for later requests with the same prefix and LUT version (server/scheduler.py)."""


@dataclass
class PoolConfig:
    """The LUT slot pool: S slots on the device, each holding one task's LUTs for every layer."""

    num_slots: int = 16
    """Slots on the device, the base's slot 0 included; S = this, or what `pool_bytes` affords if that is set."""
    pool_bytes: int = 0
    """Device budget for the pool in bytes; 0 = use `num_slots`. At least 2 slots are always made."""
    cpu_tier_bytes: int = 512 * MiB
    """Host-memory tier of validated LUT sets in front of the disk store (pinned memory on CUDA)."""
    verify_checksums: bool = True
    """Re-hash a LUT file against the store's recorded sha256 before loading it (catches bit rot)."""


@dataclass
class SchedulerConfig:
    """Continuous batching limits and the admission queue."""

    max_num_seqs: int = 64
    """Most sequences running at once (the decode batch size)."""
    max_num_batched_tokens: int = 512
    """Most tokens in one step (decodes + prefill chunks); longer prompts are prefilled in chunks of this."""
    decode_steps: int = 0
    """Decode steps run back to back per schedule (multi-step decoding) when every running request decodes and no
    waiting request could start (none waits, or every seat is taken): scheduling, input building and output
    handling, during which the GPU idles (0.44 ms a step on the H200 at batch 1, 0.07 with 4 steps;
    benchmarks/NOTES.md), are paid once per this many tokens. A request arriving meanwhile that could start ends
    the plan early (the runner asks between steps: it waits about two steps); a request that ends inside a plan
    (EOS, stop, max_tokens) gets its last token at the plan's end; requests whose sampling needs each token on the
    host first (penalties, logit bias, JSON mode, logprobs) keep single steps. 1 = off; 0 = auto: 4 on CUDA, 1 on
    the CPU (where the host's share of a step is small and a step is long)."""
    max_waiting: int = 256
    """Bound of the admission queue; past it add_request raises QueueFullError."""
    max_waiting_per_task: int = 0
    """Most requests of one task in the admission queue, and of one tenant over its tasks (where add_request is told
    the tenant: the HTTP layer's API keys); past it add_request raises TaskQueueFullError or TenantQueueFullError.
    So one flooding task or tenant cannot take the whole queue and lock every other out of admission. 0 = three
    quarters of max_waiting (rounded up): a quarter of the queue is always left to the others."""
    max_prompt_tokens: int = 4096
    """Longest accepted prompt, in tokens (PromptTooLongError past it)."""
    max_new_tokens: int = 1024
    """Largest accepted SamplingParams.max_tokens (InvalidParamsError past it)."""
    max_model_len: int = 0
    """Longest sequence (prompt + generated); 0 = the model's max_position_embeddings. Always capped by what the
    KV cache holds."""

    @property
    def waiting_cap_per_task(self) -> int:
        """max_waiting_per_task as it applies (to a task, and to a tenant)."""
        return self.max_waiting_per_task or self.max_waiting - self.max_waiting // 4


def int8_activations_run_on(device: str | torch.device) -> bool:
    """Whether the int8 activation mode runs on this device: a CUDA sm_90 GPU with Gluon, the int8 bucket kernel's
    (kernels/triton_ops.py wgmma_bucket_gpu). Elsewhere the server leaves it off, so no LUT distances are measured."""
    if torch.device(device).type != "cuda":
        return False
    from kernels.triton_ops import wgmma_bucket_gpu

    return wgmma_bucket_gpu()


@dataclass
class EngineConfig:
    """Everything the engine needs besides the model, the tokenizer and the store."""

    device: str = "auto"
    """'auto' (CUDA if available), 'cpu' or 'cuda[:N]'."""
    dtype: str = "auto"
    """Activation, dense-weight, LUT-pool and KV dtype: 'auto' (float16 on CUDA, float32 on the CPU), 'float16',
    'bfloat16' or 'float32'."""
    cuda_graphs: bool = True
    """Capture decode steps as CUDA graphs (CUDA only; ignored on the CPU)."""
    cuda_graph_max_batch: int = 64
    """Largest decode batch run through a captured graph; larger batches run eagerly."""
    graph_prefill: bool = True
    """CUDA graphs also for steps with prefill chunks, when all the step's tokens (decodes plus chunk tokens) fit
    cuda_graph_max_batch: each chunk token becomes a decode row of its own (its position, its context length,
    the chunk's block table), so short prompts, prompts on a cached prefix and mixed steps replay a graph instead
    of launching every kernel from Python (~40 ms a step for a 32-layer model on the H200; server/runner.py)."""
    prefill_graphs: bool = True
    """CUDA graphs, piecewise, for the steps above cuda_graph_max_batch tokens: up to eight tasks' prompt chunks
    beside up to 64 other rows (decodes, the smallest tasks' chunks). Every layer's work but attention replays
    (L + 1 graphs per step shape), attention runs eagerly between (server/prefill_graphs.py). Saves most of an
    eager step's host time (~25-45 ms on the H200 at 32 layers)."""
    tune_at_start: bool = True
    """CUDA only: autotune the multi-LUT kernels for every token count a step can have (the op's keys: powers of
    two up to the token budget; both decode kernels up to 64 tokens) while the engine starts, so no request waits
    for tuning. Costs ~50 s on a GPU whose choices are not cached yet (Llama-2-7B shapes, H200), nothing once they
    are (server/runner.py, tune_kernels)."""
    int8_activations: bool = False
    """Off here, the library's exact default; the server turns it on where it runs (server/settings.py,
    from_settings, int8_activations_run_on). CUDA (sm_90) only: steps of 9-16 rows over many tasks (decode rows, and
    short prompts' rows that graph prefill runs as decode rows) round each projection's input to one int8 digit a
    token (a step per token) through each token's LUT, and send the remainder through the base LUT
    (Transformer.enable_int8_activations): ~1.4x the exact kernel's speed there. For the base model the remainder's
    7-bit base levels are its only rounding (~2e-4 of a projection's output); with a task LUT it is also off by
    (W_task - W_base) times the remainder: as accurate as fp16 for a real math task LUT of the default model
    (perplexity -0.001 % against float32 in the kernel's arithmetic, as fp16's), less so for LUTs far from the
    base's, whose steps therefore run exact (int8_max_lut_distance)."""
    int8_max_lut_distance: float = 0.05
    """With int8_activations: a step takes the int8 kernel only if each of its tasks' LUT sets lies within this
    relative distance of the base's (LutPool.lut_distance: the largest over projections of ||W - W_base|| /
    ||W_base||, from the LUTs and how many weights use each entry, measured just after each version first goes
    ready in a slot, its steps exact until then; the counts take one more LUT set's memory on the device); a step
    with a task farther off runs exact (ModelRunner.int8_allowed). The mode's error on a projection is its one-digit
    rounding error (~0.9 % of the output, relative) times about this distance: at 0.05, ~4e-4, about the fp16
    output's own rounding (2**-11 an element). The math task LUT fine-tuned on the default model moved its weights
    2.5 % at the largest projection (0.67 % over all) and its perplexity in the mode was fp16's
    (benchmarks/NOTES.md, forty-third session). 0 serves only the base in it; float('inf'), every task."""
    cpu_weight_cache_bytes: int | None = None
    """On the CPU: bytes of dense weights rebuilt from resident LUTs and kept (the reference op rebuilds them on
    every call, ~1 s per token for a 135M model); 0 = off; None = every resident task's (num_slots), within half of
    the host's available memory at start (a fixed 1 GiB held two of the default model's tasks in float32: a batch
    over four ran at ~15 tok/s against 40 with all kept). Ignored on CUDA, where the kernels read the LUTs."""
    cpu_weight_dtype: str = "auto"
    """On the CPU: the cached weights' dtype and that of their matmuls. 'bfloat16' halves the memory per task and,
    where the CPU has AMX or AVX512-BF16, runs batches faster (README: 1.6x float32's tok/s at batch 8, about equal at
    batch 1); 'float32' is exact to the reference op; 'auto' takes bfloat16 where the CPU has those units; 'int8'
    (weight-only, one scale per row) halves bf16's bytes: the fastest one-sequence decoding; a weight's first call
    of more than 4 rows adds a bf16 copy that batches and prefills then use (1.5x bf16's bytes from then on;
    server/cpu_weights.py, Int8Weight; its perplexity cost: benchmarks/serving_ppl.py)."""
    overlap_scheduling: str = "auto"
    """Schedule and launch the next plan while the one before is still on the device, and read that one back while
    the next runs, so the host's scheduling, input building and output handling (~1-2 ms a plan at 16 rows on the
    H200 host) no longer leave the GPU idle between plans (engine.py). Applies to plans whose sampling is done on
    the device (not logprobs, penalties, logit bias, JSON mode, prompt scoring). 'auto': on for CUDA, off on the
    CPU (whose model runs on the host itself: nothing to overlap); 'on'; 'off'."""
    stats_window: int = 64
    """Steps (and finished requests) remembered for EngineStats."""
    cache: CacheConfig = field(default_factory=CacheConfig)
    pool: PoolConfig = field(default_factory=PoolConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)

    def torch_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def torch_dtype(self) -> torch.dtype:
        if self.dtype == "auto":
            return torch.float16 if self.torch_device().type == "cuda" else torch.float32
        dtypes = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}
        if self.dtype not in dtypes:
            raise ValueError(f"dtype must be 'auto' or one of {sorted(dtypes)}, got {self.dtype!r}")
        return dtypes[self.dtype]

    def overlaps(self) -> bool:
        """Whether overlapped scheduling is on for this config's device."""
        if self.overlap_scheduling not in ("auto", "on", "off"):
            raise ValueError(f"overlap_scheduling must be 'auto', 'on' or 'off', got {self.overlap_scheduling!r}")
        if self.overlap_scheduling == "auto":
            return self.torch_device().type == "cuda"
        return self.overlap_scheduling == "on"

    def cpu_weight_torch_dtype(self) -> torch.dtype:
        choice = self.cpu_weight_dtype
        if choice == "auto":
            choice = "bfloat16" if cpu_has_bf16_units() else "float32"
        dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16, "int8": torch.int8}
        if choice not in dtypes:
            raise ValueError(f"cpu_weight_dtype must be 'auto', 'float32', 'bfloat16' or 'int8', got {choice!r}")
        return dtypes[choice]

    @staticmethod
    def from_settings(settings) -> EngineConfig:
        """Map server.settings.Settings (duck-typed: no pydantic import here) onto the engine's config."""
        return EngineConfig(
            device=settings.resolved_device(),
            dtype=settings.dtype,
            cache=CacheConfig(kv_cache_bytes=settings.kv_cache_mb * MiB, prefix_caching=settings.prefix_caching),
            cpu_weight_cache_bytes=None if settings.cpu_weight_cache_mb is None else settings.cpu_weight_cache_mb * MiB,
            cpu_weight_dtype=settings.cpu_weight_dtype,
            tune_at_start=settings.tune_at_start,
            int8_activations=settings.int8_activations and int8_activations_run_on(settings.resolved_device()),
            int8_max_lut_distance=settings.int8_max_lut_distance,
            overlap_scheduling=settings.overlap_scheduling,
            pool=PoolConfig(
                num_slots=settings.max_tasks_resident,
                pool_bytes=settings.lut_pool_mb * MiB,
                cpu_tier_bytes=settings.cpu_tier_mb * MiB,
            ),
            scheduler=SchedulerConfig(
                max_num_seqs=settings.max_batch_size,
                max_waiting=settings.max_waiting,
                max_waiting_per_task=settings.max_waiting_per_task,
                max_prompt_tokens=settings.max_prompt_tokens,
                max_new_tokens=settings.max_new_tokens,
                decode_steps=settings.decode_steps,
            ),
        )
