"""Per-task LUT fine-tuning: the codes (the mapping) stay frozen, only the LUT values train.

    sketched base (codes + base LUT) --load--> HF model, every projection a LutLinear
        freeze everything; LutLinear.lut -> requires_grad, fp32 (the master copy AdamW updates)
        loop: batch -> forward (bf16 autocast on CUDA; on a CPU fp32, the LUT projections' matmuls in bf16 where it
              has bf16 units) -> loss on response tokens
              -> backward: dL/dlut[r, g, v] = sum of dL/dW_hat[r, c] over the columns c of group g with
                 codes[r, c] == v (a scatter-add over codes inside kernels/lut_linear.py; no dense weight
                 is kept between forward and backward) -> clip -> AdamW -> lr schedule
    -> TaskLut (LUTs cast to the base's LUT dtype + a training summary) -> sketch/task_lut.py writes it

`train` is the loop alone, over any set of trainable parameters, so a baseline (e.g. LoRA in
benchmarks/finetune_vs_lora.py) sees exactly the same batches, loss and schedule.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from kernels.cpu_features import cpu_has_bf16_units
from sketch.evaluate import autocast_for, device_of, response_loss, task_loss
from sketch.format import BaseSpec, SketchedBase, load_sketched_base
from sketch.lut_model import LutLinear, load_sketched_model, luts_of, set_cpu_compute_dtype
from sketch.models import file_sha256
from sketch.prompts import collate, encode_example, load_examples, pad_id_of
from sketch.task_lut import TaskLut, TaskLutError, validate_task_lut

SCHEDULES = ("cosine", "linear", "constant")
LOSS_CURVE_POINTS = 100  # training losses kept in the summary, averaged into this many buckets


@dataclass
class FinetuneConfig:
    """How one task is trained. Every field goes into the task LUT's training summary."""

    epochs: int = 1
    """Passes over the training split (ignored when max_steps is set)."""
    max_steps: int | None = None
    """Optimizer steps in all; overrides epochs."""
    lr: float = 1e-4
    """Peak AdamW learning rate. LUT values are weights (~1e-2), so LoRA-sized rates (3e-4+) are too large."""
    batch_size: int = 16
    max_length: int = 512
    """Tokens per example, prompt + response; longer prompts lose their start."""
    warmup_steps: int = 0
    """Linear warm-up from 0 to lr."""
    schedule: str = "cosine"
    """After warm-up: cosine or linear decay to 0, or constant."""
    seed: int = 0
    """Seeds the train/eval split and the batch order."""
    eval_split: float = 0.05
    """Fraction of the examples held out for the eval loss (0: none)."""
    weight_decay: float = 0.0
    """AdamW decay pulls LUT values (weights themselves, not deltas) to 0, so it is off by default."""
    grad_clip: float = 1.0
    """Max global gradient norm (0: no clipping)."""
    grad_checkpointing: bool = False
    """Recompute block activations in backward: less memory, ~30% more time."""
    cpu_bf16: bool | None = None
    """On the CPU: the LUT projections' matmuls take bf16 inputs while training (on AMX / AVX512-BF16 units; the
    LUTs, the sums of their gradients, attention and AdamW stay float32), as CUDA trains in bf16 autocast; None =
    where the CPU has those units (kernels/cpu_features.py), False = float32. Evaluation stays float32."""
    eval_batch_size: int = 32
    progress: bool = True
    """A tqdm bar with the running loss."""

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if not 0 <= self.eval_split < 1:
            raise ValueError(f"eval_split must be in [0, 1), got {self.eval_split}")
        if self.batch_size < 1 or self.max_length < 2 or self.epochs < 1:
            raise ValueError("batch_size, epochs must be >= 1 and max_length >= 2")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")


@dataclass
class TrainStats:
    steps: int
    epochs: float  # examples seen / training examples
    final_loss: float  # mean of the last <= 10 step losses
    loss_curve: list[float]  # step losses averaged into <= LOSS_CURVE_POINTS buckets
    response_tokens: int
    trainable_params: int
    time_s: float
    step_time_median_s: float  # steady state: excludes one-off costs (kernel compilation, autotuning)
    peak_memory_bytes: int | None  # CUDA only
    compute: str  # the training steps' arithmetic: "bf16 autocast" (CUDA), "bf16 LUT matmuls" (CPU) or "float32"
    extra: dict = field(default_factory=dict)


def split_examples(examples: list[dict], eval_split: float, seed: int) -> tuple[list[dict], list[dict]]:
    """(train, eval): a seeded random eval_split fraction held out (at least 1 row when eval_split > 0)."""
    if eval_split <= 0 or len(examples) < 2:
        return list(examples), []
    order = torch.randperm(len(examples), generator=torch.Generator().manual_seed(seed)).tolist()
    n_eval = min(len(examples) - 1, max(1, round(len(examples) * eval_split)))
    held = set(order[:n_eval])
    train = [e for i, e in enumerate(examples) if i not in held]
    return train, [examples[i] for i in sorted(held)]


def total_steps(n_train: int, config: FinetuneConfig) -> int:
    return config.max_steps or config.epochs * math.ceil(n_train / config.batch_size)


def lr_factor(step: int, total: int, warmup: int, schedule: str) -> float:
    """Multiplier of the peak lr at optimizer step `step` (0-based) of `total`."""
    if step < warmup:
        return (step + 1) / (warmup + 1)
    if schedule == "constant":
        return 1.0
    progress = (step - warmup) / max(1, total - warmup)
    if schedule == "linear":
        return max(0.0, 1.0 - progress)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def mark_luts_trainable(model: nn.Module) -> list[nn.Parameter]:
    """Freeze every parameter, then unfreeze each LutLinear's LUT (which must be fp32: the master copy)."""
    for p in model.parameters():
        p.requires_grad_(False)
    luts = []
    for name, module in model.named_modules():
        if isinstance(module, LutLinear):
            if module.lut.dtype != torch.float32:
                raise ValueError(f"{name}.lut is {module.lut.dtype}; train LUTs in float32 (load with lut_dtype)")
            module.lut.requires_grad_(True)
            luts.append(module.lut)
    if not luts:
        raise ValueError("the model has no LutLinear layer: not a sketched model")
    return luts


def train(
    model: nn.Module,
    params: list[nn.Parameter],
    tokenizer,
    train_examples: list[dict[str, str]],
    config: FinetuneConfig,
    desc: str = "finetune",
) -> TrainStats:
    """AdamW on `params` (already requires_grad, the rest frozen) with the loss on response tokens only."""
    if not train_examples:
        raise ValueError("no training examples")
    device = device_of(model)
    cpu_bf16 = device.type == "cpu" and (cpu_has_bf16_units() if config.cpu_bf16 is None else config.cpu_bf16)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    encoded = [encode_example(e, tokenizer, config.max_length) for e in train_examples]
    steps = total_steps(len(encoded), config)
    optimizer = torch.optim.AdamW(params, lr=config.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, steps, config.warmup_steps, config.schedule)
    )
    if config.grad_checkpointing:
        _set_checkpointing(model, True)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    model.train()
    if cpu_bf16:
        set_cpu_compute_dtype(model, torch.bfloat16)  # (back to float32, exact, when the loop ends)
    losses: list[float] = []
    step_times: list[float] = []
    response_tokens = examples_seen = 0
    pad_id = pad_id_of(tokenizer)
    bar = tqdm(total=steps, desc=desc, unit="step", disable=not config.progress)
    start = time.perf_counter()
    while len(losses) < steps:
        order = torch.randperm(len(encoded), generator=generator).tolist()
        for i in range(0, len(order), config.batch_size):
            if len(losses) >= steps:
                break
            step_start = time.perf_counter()
            rows = order[i : i + config.batch_size]
            batch = collate([encoded[j] for j in rows], pad_id)
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            with autocast_for(device):
                loss_sum, count = response_loss(model, batch)
            loss = loss_sum / count.clamp(min=1)  # mean over the batch's response tokens
            loss.backward()
            if config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))  # waits for the step: step times are real
            step_times.append(time.perf_counter() - step_start)
            response_tokens += int(count)
            examples_seen += len(rows)
            bar.update()
            bar.set_postfix(loss=f"{sum(losses[-10:]) / len(losses[-10:]):.4f}", lr=f"{scheduler.get_last_lr()[0]:.2e}")
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elapsed = time.perf_counter() - start
    bar.close()
    model.eval()
    set_cpu_compute_dtype(model, torch.float32)
    if config.grad_checkpointing:
        _set_checkpointing(model, False)
    return TrainStats(
        steps=steps,
        epochs=examples_seen / len(encoded),
        final_loss=sum(losses[-10:]) / len(losses[-10:]),
        loss_curve=_bucket_means(losses, LOSS_CURVE_POINTS),
        response_tokens=response_tokens,
        trainable_params=sum(p.numel() for p in params),
        time_s=elapsed,
        step_time_median_s=sorted(step_times)[len(step_times) // 2],
        peak_memory_bytes=torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None,
        compute="bf16 autocast" if device.type == "cuda" else "bf16 LUT matmuls" if cpu_bf16 else "float32",
    )


def _set_checkpointing(model: nn.Module, on: bool) -> None:
    """transformers >= 5.2x names it activation checkpointing; older 5.x gradient checkpointing.
    Non-reentrant: the inputs of a block (frozen embeddings) do not require grad."""
    if hasattr(model, "activation_checkpointing_enable"):
        if on:
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.activation_checkpointing_disable()
    elif on:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.gradient_checkpointing_disable()


def _bucket_means(values: list[float], buckets: int) -> list[float]:
    size = max(1, math.ceil(len(values) / buckets))
    return [sum(values[i : i + size]) / len(values[i : i + size]) for i in range(0, len(values), size)]


def finetune_luts(
    model: nn.Module,
    base: SketchedBase,
    tokenizer,
    train_examples: list[dict[str, str]],
    config: FinetuneConfig,
    task: str,
    eval_examples: list[dict[str, str]] | None = None,
    data_sha256: str = "",
    lut_dtype: torch.dtype | None = None,
) -> TaskLut:
    """Train the LUTs of `model` (built by load_sketched_model with fp32 LUTs) in place; return the TaskLut.

    The returned LUTs are cast to `lut_dtype` (default: the base's LUT dtype); the training summary holds
    the config, the data hash, steps, final training loss, eval loss before/after, time and peak memory.
    """
    params = mark_luts_trainable(model)
    eval_examples = eval_examples or []
    eval_before = task_loss(model, tokenizer, eval_examples, config.max_length, config.eval_batch_size)[0]
    stats = train(model, params, tokenizer, train_examples, config, desc=f"finetune {task}")
    for p in params:
        p.requires_grad_(False)
    eval_after, eval_tokens = task_loss(model, tokenizer, eval_examples, config.max_length, config.eval_batch_size)
    summary = {
        "data_sha256": data_sha256,
        "steps": stats.steps,
        "epochs": round(stats.epochs, 4),
        "final_loss": stats.final_loss,
        "eval_loss": eval_after,
        "eval_loss_before": eval_before,
        "eval_tokens": eval_tokens,
        "train_examples": len(train_examples),
        "eval_examples": len(eval_examples),
        "response_tokens": stats.response_tokens,
        "trainable_params": stats.trainable_params,
        "time_s": round(stats.time_s, 3),
        "step_time_median_s": round(stats.step_time_median_s, 5),
        "peak_memory_bytes": stats.peak_memory_bytes,
        "device": str(device_of(model)),
        "compute": stats.compute,
        "loss_curve": [round(v, 5) for v in stats.loss_curve],
        "config": {k: v for k, v in asdict(config).items() if k != "progress"},
    }
    dtype = lut_dtype or next(iter(base.luts.values())).dtype
    return task_lut_from_model(model, base, task, summary, dtype)


def task_lut_from_model(model: nn.Module, base: SketchedBase, task: str, training: dict, dtype: torch.dtype) -> TaskLut:
    """The model's current LUTs as a TaskLut for `base` (CPU tensors in `dtype`), validated."""
    luts = {name: lut.to(device="cpu", dtype=dtype).contiguous() for name, lut in luts_of(model).items()}
    task_lut = TaskLut(task, luts, base.fingerprint, base.bits, base.gpr, training)
    validate_task_lut(task_lut, base.spec())
    return task_lut


def apply_task_lut(model: nn.Module, task_lut: TaskLut, spec: BaseSpec) -> None:
    """Copy a task's LUTs into the model's LutLinear layers (after checking the task fits the base)."""
    validate_task_lut(task_lut, spec)
    modules = {name: m for name, m in model.named_modules() if isinstance(m, LutLinear)}
    if modules.keys() != task_lut.luts.keys():
        raise TaskLutError("the model's LUT layers differ from the task LUT's")
    with torch.no_grad():
        for name, module in modules.items():
            module.lut.copy_(task_lut.luts[name])  # copy_ casts dtype and moves device


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def default_dtype(device: torch.device) -> torch.dtype:
    """Dense (frozen) weights: bf16 on CUDA (compute is bf16 autocast anyway), fp32 on CPU."""
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def finetune(
    base_dir: str | os.PathLike,
    data_path: str | os.PathLike,
    task: str,
    config: FinetuneConfig,
    device: torch.device | str | None = None,
    lut_dtype: torch.dtype | None = None,
) -> TaskLut:
    """Load a sketched base dir (with tokenizer) and an instruction JSON file; train and return the TaskLut."""
    from transformers import AutoTokenizer

    device = torch.device(device) if device is not None else default_device()
    base = load_sketched_base(base_dir)
    model, _ = load_sketched_model(base, dtype=default_dtype(device), device=device, lut_dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
    examples = load_examples(data_path)
    train_examples, eval_examples = split_examples(examples, config.eval_split, config.seed)
    task_lut = finetune_luts(
        model, base, tokenizer, train_examples, config, task, eval_examples, file_sha256(data_path), lut_dtype
    )
    task_lut.training["data_file"] = Path(data_path).name
    return task_lut
