"""What an int8 one-hot MMA would cost in accuracy: perplexity of the offline LUT model with every projection's input
rounded per token to int8 digits, against the same model as served in fp16 and in float32.

    python benchmarks/int8_activation_ppl.py [--model default|DIR] [--eval-tokens 4096] [--window 512] [--out DIR]

The bucket kernel's one-hot MMA is exact in fp16 (x in fp16, fp32 sums). mma.sync on int8 runs at the fp16 MMA's
instruction rate with twice the multiply-adds (H200, benchmarks/NOTES.md, forty-second session), so a kernel with x
as int8 would halve its MMAs, but x would be rounded:
- int8: x_t ~ s_t q, s_t = max |x_t| / 127 (one digit a token: the form that halves the MMAs);
- int8x2: x_t ~ s_t (q + l / 256) (two digits: the same MMA time as fp16, ~2^-15 of max |x_t|).
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

from sketch.lut_model import LutLinear, load_sketched_model  # noqa: E402
from sketch.perplexity import perplexity  # noqa: E402

MODES = ("float32", "float16", "int8x2", "int8")


def round_per_token(x: torch.Tensor, mode: str) -> torch.Tensor:
    """x [..., K] as the mode's kernel would see it (float32 out): float32 unchanged, float16 rounded to fp16, int8 /
    int8x2 rounded to one / two int8 digits of a per-token step s_t = max |x_t| / 127."""
    if mode == "float32":
        return x
    if mode == "float16":
        return x.half().float()
    s = x.abs().amax(dim=-1, keepdim=True).clamp_min(1e-30) / 127
    q = torch.round(x / s).clamp(-127, 127)
    if mode == "int8":
        return q * s
    if mode != "int8x2":
        raise ValueError(f"unknown mode {mode}")
    low = torch.round((x - q * s) / (s / 256)).clamp(-128, 127)  # |x - q s| <= s / 2: within the digit
    return q * s + low * (s / 256)


def with_rounded_inputs(model: torch.nn.Module, mode: str, peaks: dict[str, float] | None = None) -> list:
    """Forward pre-hooks rounding every LutLinear's input (returned, to be removed); peaks (if given) collects the
    largest max |x_t| / rms(x_t) per projection kind (q_proj, ..., down_proj)."""

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
            handles.append(module.register_forward_pre_hook(hook))
    return handles


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="default", help="'default' (the embedded model's sketch) or a sketched dir")
    p.add_argument("--eval-tokens", type=int, default=4096)
    p.add_argument("--window", type=int, default=512)
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "tasks" / "math_train.json"))
    p.add_argument("--tiny", action="store_true", help="random tiny model, random tokens (the test's form)")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = p.parse_args(argv)
    from serving_ppl import load  # the same model and tokens as the serving perplexity

    base, _, ids, what = load(args)
    model, _ = load_sketched_model(base, dtype=torch.float32)
    rows = []
    peaks: dict[str, float] = defaultdict(float)
    for mode in MODES:
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
           "modes": rows, "peak_max_over_rms": dict(peaks)}  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    name = "int8_activation_ppl_tiny.json" if args.tiny else "int8_activation_ppl.json"
    (args.out / name).write_text(json.dumps(out, indent=1) + "\n")
    return out


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
