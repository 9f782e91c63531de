"""What an int8 one-hot MMA would cost in accuracy: perplexity of the offline LUT model with every projection's input
rounded per token to int8 digits, against the same model as served in fp16 and in float32.

    python benchmarks/int8_activation_ppl.py [--model default|DIR] [--lut TASK.safetensors] [--eval-tokens 4096]
        [--window 512] [--data JSON] [--out DIR]

The bucket kernel's one-hot MMA is exact in fp16 (x in fp16, fp32 sums). mma.sync on int8 runs at the fp16 MMA's
instruction rate with twice the multiply-adds (H200, benchmarks/NOTES.md, forty-second session), so a kernel with x
as int8 would halve its MMAs, but x would be rounded:
- int8: x_t ~ s_t q, s_t = max |x_t| / 127 (one digit a token: the form that halves the MMAs);
- int8x2: x_t ~ s_t (q + l / 256) (two digits: the same MMA time as fp16, ~2^-15 of max |x_t|);
- int8merged: x_t ~ s_t (q + l / 127), |l| <= 64 (the merged kernel's digits: one accumulator, ~2^-14 of max |x_t|);
- int8base: one digit through the task's LUT and the remainder r_t = x_t - s_t q through the base LUT: y = W_task
  (s q) + W_base r (exact for the base model; off by (W_task - W_base) r with a task LUT: a kernel with one int8
  IMMA a one-hot plus a shared dequantized correction). Meaningful with --lut (a task LUT over the base);
- int8kernel: int8base as the int8 bucket kernel's BASE_CORR form computes it (the engine's int8 activation mode):
  the remainder as a second digit s_t l / 256 and the base LUT as 7-bit levels a row group
  (kernels/triton_bucket_int8.py base_corrected_reference, which the kernel's CUDA tests hold it to).
The tokens and windows are serving_ppl.py's (held-out worked solutions of math_train.json). Also reported per
projection kind: the largest max |x_t| / rms(x_t) over the tokens, which sets what the rounding loses (an outlier
channel makes the step s_t coarse for every other channel). Writes int8_activation_ppl.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kernels.reference import lut_linear_reference  # noqa: E402
from sketch.lut_model import LutLinear, load_sketched_model  # noqa: E402
from sketch.perplexity import perplexity  # noqa: E402

MODES = ("float32", "float16", "int8x2", "int8merged", "int8", "int8base", "int8kernel")


def round_per_token(x: torch.Tensor, mode: str) -> torch.Tensor:
    """x [..., K] as the mode's kernel would see it (float32 out): float32 unchanged, float16 rounded to fp16, int8 /
    int8x2 / int8merged rounded to one / two int8 digits of a per-token step s_t = max |x_t| / 127 (the second
    digit's step s_t / 256, or s_t / 127 for the merged kernel's)."""
    if mode == "float32":
        return x
    if mode == "float16":
        return x.half().float()
    s = x.abs().amax(dim=-1, keepdim=True).clamp_min(1e-30) / 127
    q = torch.round(x / s).clamp(-127, 127)
    if mode == "int8":
        return q * s
    if mode not in ("int8x2", "int8merged"):
        raise ValueError(f"unknown mode {mode}")
    base = 256 if mode == "int8x2" else 127
    low = torch.round((x - q * s) / (s / base)).clamp(-128, 127)  # |x - q s| <= s / 2: within the digit
    return q * s + low * (s / base)


def base_corrected(module: torch.nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
    """A LutLinear's output in int8base mode: W_task (s q) + W_base r + b, r = x - s q (module.base_lut: the base's
    LUT, kept when the task LUT was applied)."""
    x = args[0]
    q = round_per_token(x.float(), "int8").to(x.dtype)
    lead = x.shape[:-1]
    codes, bits = module.codes_packed, module.bits
    q2, r2 = q.reshape(-1, x.shape[-1]), (x - q).reshape(-1, x.shape[-1])
    slots = torch.zeros(q2.shape[0], dtype=torch.int32)
    y = lut_linear_reference(q2, codes, module.lut[None], slots, bits)
    y = y + lut_linear_reference(r2, codes, module.base_lut[None], slots, bits)
    if module.bias is not None:
        y = y + module.bias
    return y.reshape(*lead, -1).to(output.dtype)


def kernel_corrected(module: torch.nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
    """A LutLinear's output in int8kernel mode: base_corrected_reference with the base LUT's tables (4-bit codes)."""
    from kernels.triton_bucket_int8 import base_corrected_reference, base_tables

    if module.bits != 4:
        raise ValueError("int8kernel: the int8 bucket kernel takes 4-bit codes")
    x = args[0]
    x2 = x.reshape(-1, x.shape[-1])
    slots = torch.zeros(x2.shape[0], dtype=torch.int32)
    if not hasattr(module, "base_tables"):
        module.base_tables = base_tables(module.base_lut)
    y = base_corrected_reference(x2, module.codes_packed, module.lut[None], slots, module.base_tables)
    if module.bias is not None:
        y = y + module.bias
    return y.reshape(*x.shape[:-1], -1).to(output.dtype)


def with_rounded_inputs(model: torch.nn.Module, mode: str, peaks: dict[str, float] | None = None) -> list:
    """Forward pre-hooks rounding every LutLinear's input (returned, to be removed; int8base: a forward hook
    replacing the output, base_corrected); peaks (if given) collects the largest max |x_t| / rms(x_t) per projection
    kind (q_proj, ..., down_proj)."""

    def hook(module: torch.nn.Module, args: tuple) -> tuple:
        x = args[0]
        if peaks is not None:
            x2 = x.reshape(-1, x.shape[-1]).float()
            ratio = (x2.abs().amax(dim=-1) / x2.pow(2).mean(dim=-1).sqrt().clamp_min(1e-30)).max().item()
            peaks[module.kind] = max(peaks[module.kind], ratio)
        return (round_per_token(x, mode).to(x.dtype), *args[1:])

    handles = []
    for name, module in model.named_modules():
        if isinstance(module, LutLinear):
            module.kind = name.rsplit(".", 1)[-1]
            if mode in ("int8base", "int8kernel"):
                if not hasattr(module, "base_lut"):
                    module.base_lut = module.lut.detach().clone()
                corrected = base_corrected if mode == "int8base" else kernel_corrected
                handles.append(module.register_forward_hook(corrected))
            else:
                handles.append(module.register_forward_pre_hook(hook))
    return handles


def apply_task_lut(model: torch.nn.Module, path: Path) -> dict:
    """Load a task LUT file into the model's LutLinears (each keeps its base LUT as base_lut); returns how far the
    task's weights are from the base's: ||W_task - W_base|| / ||W_base|| over all projections and the largest of
    one projection (the factor by which int8base shrinks the one-digit error)."""
    from sketch.task_lut import load_task_lut

    task = load_task_lut(path)
    num = den = 0.0
    worst = 0.0
    for name, module in model.named_modules():
        if isinstance(module, LutLinear):
            module.base_lut = module.lut.detach().clone()
            w0 = module.dense_weight()
            module.lut.data = task.luts[name].to(module.lut.dtype)
            d2, b2 = (module.dense_weight() - w0).pow(2).sum().item(), w0.pow(2).sum().item()
            num, den, worst = num + d2, den + b2, max(worst, (d2 / b2) ** 0.5)
    return {"task": task.task, "relative_delta": (num / den) ** 0.5, "largest_layer_delta": worst,
            "training": task.training}  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="default", help="'default' (the embedded model's sketch) or a sketched dir")
    p.add_argument("--eval-tokens", type=int, default=4096)
    p.add_argument("--window", type=int, default=512)
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "tasks" / "math_train.json"))
    p.add_argument("--tiny", action="store_true", help="random tiny model, random tokens (the test's form)")
    p.add_argument("--lut", type=Path, help="a task LUT file of the base, applied to every projection")
    p.add_argument("--modes", default=",".join(MODES), help="comma-separated subset of " + ",".join(MODES))
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = p.parse_args(argv)
    from serving_ppl import load  # the same model and tokens as the serving perplexity

    base, _, ids, what = load(args)
    model, _ = load_sketched_model(base, dtype=torch.float32)
    task = apply_task_lut(model, args.lut) if args.lut else None
    if task:
        print(f"task {task['task']}: ||W_task - W_base|| / ||W_base|| = {task['relative_delta']:.4f} (largest "
              f"projection {task['largest_layer_delta']:.4f})", flush=True)  # fmt: skip
    modes = args.modes.split(",")
    if modes[0] != "float32" or not set(modes) <= set(MODES):
        p.error(f"--modes: float32 first, then any of {MODES}")
    rows = []
    peaks: dict[str, float] = defaultdict(float)
    for mode in modes:
        handles = with_rounded_inputs(model, mode, peaks if mode == "float32" else None)
        t0 = time.perf_counter()
        ppl = perplexity(model, ids, seq_len=args.window, progress=False).as_dict()["ppl"]
        for h in handles:
            h.remove()
        rows.append({"mode": mode, "ppl": ppl, "seconds": time.perf_counter() - t0})
        gap = ppl / rows[0]["ppl"] - 1
        print(f"{mode}: ppl {ppl:.4f} ({gap:+.3%} against float32), {rows[-1]['seconds']:.1f} s", flush=True)
    print("largest max |x_t| / rms(x_t): " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(peaks.items())))
    out = {"model": "tiny random" if args.tiny else (base.source_model or args.model),
           "tokens": {"count": int(ids.numel()), "window": args.window, "what": what},
           "modes": rows, "peak_max_over_rms": dict(peaks), "task_lut": task}  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    name = "int8_activation_ppl_tiny.json" if args.tiny else "int8_activation_ppl.json"
    if task:
        name = name.replace(".json", f"_{task['task']}.json")
    (args.out / name).write_text(json.dumps(out, indent=1) + "\n")
    return out


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
