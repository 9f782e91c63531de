"""Server settings: one pydantic-settings class, read from SKETCHSERVE_* env vars and CLI flags.

Built in the app factory (never at import time). Every CLI flag of `sketchserve serve` maps to one field
here, and every field also has an env var: SKETCHSERVE_<FIELD NAME IN CAPITALS>.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from server.auth import ApiKey


def default_cache_dir() -> Path:
    import os

    return Path(os.environ.get("SKETCHSERVE_CACHE", Path.home() / ".cache" / "sketchserve"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SKETCHSERVE_", extra="ignore", protected_namespaces=())

    # --- what to serve ---------------------------------------------------------------------------
    model: str = Field(
        "default", description="A sketched base directory; or 'default' (the embedded model), a Hugging Face model "
        "directory or a .gguf file, each sketched on first use (data-free calibration) and cached"
    )
    sketch_bits: int = Field(4, description="Bits per code when the model is sketched at start (2, 3 or 4)")
    sketch_gpr: int = Field(4, description="LUT groups per row when the model is sketched at start (1, 2, 4 or 8)")
    lut_store: Path = Field(
        default_factory=lambda: default_cache_dir() / "luts",
        description="Directory of the on-disk task LUT store (created if missing)",
    )
    lut_keep_versions: int = Field(3, ge=1, le=1000, description="Stored versions kept per task (older ones are "
                                   "pruned at each upload; GET /v1/tasks/{task}/lut?version=N downloads a kept one)")
    device: str = Field("auto", description="'auto' (CUDA if present, else CPU), 'cpu' or 'cuda[:N]'")
    dtype: Literal["auto", "float16", "bfloat16", "float32"] = Field(
        "auto", description="Activations, KV cache and LUT pool: auto (float16 on CUDA, float32 on the CPU). On the "
        "CPU bfloat16 halves the KV cache and LUT pool and loads tasks faster (default model, 2-core CPU: "
        "perplexity unchanged, batch 8 +4-8 %, cold TTFT 0.99 -> 0.54-0.61 s)"
    )

    # --- network ---------------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Interface to listen on")
    port: int = Field(8000, ge=0, le=65535, description="TCP port (0 picks a free one)")

    # --- memory budgets --------------------------------------------------------------------------
    kv_cache_mb: int = Field(0, ge=0, description="KV cache budget in MiB; 0 sizes it from free memory")
    lut_pool_mb: int = Field(0, ge=0, description="GPU LUT pool budget in MiB; 0 sizes it from max_tasks_resident")
    cpu_tier_mb: int = Field(512, ge=0, description="Host-memory tier of task LUTs in front of the disk store")
    cpu_weight_cache_mb: int | None = Field(
        None, ge=0, description="CPU serving only: MiB of dequantized weights kept for the resident tasks (the default "
        "model needs ~400 MiB per task in float32, ~200 in bfloat16); unset: every resident task's, within half of "
        "the memory available at start; 0 dequantizes on every call"
    )
    cpu_weight_dtype: Literal["auto", "float32", "bfloat16", "int8"] = Field(
        "auto", description="CPU serving only: dtype of those weights and their matmuls. bfloat16 halves the memory "
        "per task and runs batches much faster on CPUs with AMX or AVX512-BF16 (bf16 rounding of the projections' "
        "inputs and outputs); float32 is exact and slightly faster at batch 1; int8 (weight-only, a scale per row) "
        "halves bf16's memory and decodes one sequence fastest (batches add a bf16 copy: 1.5x bf16's memory); "
        "auto: bfloat16 where the CPU has the units"
    )

    prefix_caching: bool = Field(
        True, description="Reuse the KV blocks of prompt prefixes already computed with the same task LUT version "
        "(a shared system prompt or few-shot examples are then computed once)"
    )
    int8_activations: bool = Field(
        True, description="On where it runs (CUDA sm_90; ignored elsewhere): decode batches of 9-16 rows over many "
        "tasks with each projection's input as one int8 digit a token through the task LUTs and the remainder through "
        "the base LUT (1.17-1.26x the exact step at 16 sequences over 16 tasks, H200; as accurate as fp16 for the "
        "base and a real task LUT of the default model; steps with a task far from the base run exact: "
        "int8_max_lut_distance). Off: every step exact (--exact-activations)"
    )
    int8_max_lut_distance: float = Field(
        0.05, ge=0, description="With int8_activations: a step takes the int8 kernel only if each of its task LUT "
        "sets lies within this relative distance of the base's (the largest over projections of ||W - W_base|| / "
        "||W_base||); a step with a task farther off runs exact. A math task LUT fine-tuned on the default model moved "
        "its weights 2.5 % at its largest projection"
    )
    tune_at_start: bool = Field(
        True, description="CUDA only: autotune the multi-LUT kernels for every step size while starting "
        "(~1 min on a GPU whose choices are not cached yet, then cached); off: each shape's first request tunes it"
    )

    # --- scheduling limits -----------------------------------------------------------------------
    max_batch_size: int = Field(64, ge=1, description="Most sequences decoded in one step")
    decode_steps: int = Field(
        0, ge=0, le=64,
        description="Decode steps per schedule while every request decodes (multi-step decoding); 0 = auto (4 on "
        "CUDA, 1 on the CPU), 1 = off",
    )  # fmt: skip
    overlap_scheduling: Literal["auto", "on", "off"] = Field(
        "auto", description="Schedule and launch the next step while the GPU runs the one before (auto: on CUDA)"
    )
    max_tasks_resident: int = Field(16, ge=1, description="LUT pool slots (tasks resident at once, base included)")
    max_waiting: int = Field(256, ge=1, description="Admission queue bound; past it requests get 429")
    max_waiting_per_task: int = Field(
        0, ge=0, description="Most waiting requests of one task, and of one API key's tenant over its tasks; past it "
        "their requests get 429, so one busy task or tenant cannot fill the queue for every other (0: three quarters "
        "of max_waiting)")
    max_prompt_tokens: int = Field(4096, ge=1, description="Longest accepted prompt, in tokens")
    max_new_tokens: int = Field(1024, ge=1, description="Largest accepted max_tokens of a request")
    queue_timeout_s: float = Field(30.0, gt=0, description="A request still queued after this gets 503")
    request_timeout_s: float = Field(300.0, gt=0, description="A request running longer than this gets 504")

    # --- request and upload limits ---------------------------------------------------------------
    max_body_bytes: int = Field(1 << 20, ge=1024, description="Largest JSON request body")
    max_upload_bytes: int = Field(512 << 20, ge=1024, description="Largest task LUT upload")
    max_stop_strings: int = Field(8, ge=0, description="Most stop strings per request")
    max_choices: int = Field(16, ge=1, description="Most completions one OpenAI request may ask for (prompts x n)")

    # --- auth ------------------------------------------------------------------------------------
    api_keys_file: Path | None = Field(
        None, description="JSON file: a list of {sha256, tenant, admin} (hashed keys, see server/auth.py)"
    )
    api_keys: list[ApiKey] = Field(
        default_factory=list, description="Hashed keys as JSON in the env (SKETCHSERVE_API_KEYS), added to the file's"
    )
    allow_open: bool = Field(
        False, description="Serve with no API keys on a non-loopback host (without keys, only loopback is allowed)"
    )

    # --- logs ------------------------------------------------------------------------------------
    log_level: str = Field("info", description="Python log level of the server")

    @field_validator("sketch_bits")
    @classmethod
    def _check_bits(cls, v: int) -> int:
        from kernels.packing import SUPPORTED_BITS  # the sketcher's own sets (imported here: settings stay light)

        if v not in SUPPORTED_BITS:
            raise ValueError(f"sketch_bits must be one of {SUPPORTED_BITS}")
        return v

    @field_validator("sketch_gpr")
    @classmethod
    def _check_gpr(cls, v: int) -> int:
        from sketch.sketcher import SUPPORTED_GPR

        if v not in SUPPORTED_GPR:
            raise ValueError(f"sketch_gpr must be one of {SUPPORTED_GPR}")
        return v

    @field_validator("device")
    @classmethod
    def _check_device(cls, v: str) -> str:
        if v != "auto" and v != "cpu" and not v.startswith("cuda"):
            raise ValueError("device must be 'auto', 'cpu' or 'cuda[:N]'")
        return v

    def resolved_device(self) -> str:
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
