"""What the one-token kernel's fp16 products (HALF2, kernels/triton_decode_prmt.py) cost a real model.

    python benchmarks/half2_quality.py [--model default|DIR] [--eval-tokens 256] [--window 256] [--out DIR]

On the GPU, decode steps of one token per sequence take the register-LUT kernel, which for fp16 activations and
LUTs multiplies in fp16: each weight's product rounded to fp16, each code word's 8 products summed in fp16 (4 per
half of a register pair, fused multiply-adds), every longer sum in fp32. This script emulates exactly that rounding
on the CPU for every LUT projection of the sketched model (transformers' LUT model, sketch/lut_model.py), and
compares it with the kernel's other form on the same fp16-rounded weights and activations: fp32 products and sums.
The rest of the network runs in fp32 in both, so the difference is HALF2's alone. Every token is scored as if it
were decoded (HALF2 applies per row, and a prefill row rounds as a decode row would here).

Reports the perplexity of both on the held-out worked solutions (sketch_quality.py's tokens), their relative gap,
how often the two agree on the most likely next token, and the largest logit difference. Writes
half2_quality_cpu.json.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sketch.format import load_sketched_base  # noqa: E402
from sketch.lut_model import LutLinear, load_sketched_model  # noqa: E402
from sketch.perplexity import held_out_solutions  # noqa: E402

ELEMENTS_PER_CHUNK = 1 << 23  # products held at once by the emulation (64 MB of float64)


def fp16(t: torch.Tensor) -> torch.Tensor:
    """t rounded to fp16, kept in t's dtype (the emulation computes wide and rounds where the kernel does)."""
    return t.half().to(t.dtype)


def half2_matmul(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """x [M, K] @ w [N, K].T as the HALF2 kernel rounds it -> fp32; x and w hold fp16 values, K a multiple of 8.

    Column 8v + 2i + j of code word v is half j of pair i: per word and half, h = fp16(p_0), then
    h = fp16(p_i + h) for i = 1..3 (mul.rn / fma.rn.f16x2: one rounding of the exact result, which float64 holds
    for fp16 operands), then the word's two halves and all words summed. The kernel sums those in fp32 in its own
    order; here they are summed in float64 and rounded to fp32 once (a difference far below HALF2's)."""
    m, k = x.shape
    n = w.shape[0]
    if k % 8:
        raise ValueError(f"HALF2 takes whole code words: K={k} is not a multiple of 8")
    wv = w.double().reshape(1, n, k // 8, 4, 2)
    out = torch.empty(m, n)
    rows = max(1, ELEMENTS_PER_CHUNK // (n * k))
    for start in range(0, m, rows):
        p = x[start : start + rows].double().reshape(-1, 1, k // 8, 4, 2) * wv  # exact products
        h = fp16(p[:, :, :, 0])
        for i in (1, 2, 3):
            h = fp16(p[:, :, :, i] + h)
        out[start : start + rows] = h.sum(dim=(2, 3)).float()
    return out


class Emulation:
    """Replaces every LutLinear's forward: fp16-rounded activations and weights, products in fp32 ("fp32") or as
    HALF2 rounds them ("half2"); the dequantized fp16 weight of each projection is computed once."""

    def __init__(self) -> None:
        self.mode = "fp32"
        self.weights: dict[int, torch.Tensor] = {}
        self._forward = LutLinear.forward

    def __enter__(self) -> Emulation:
        emulation = self

        def forward(module: LutLinear, x: torch.Tensor) -> torch.Tensor:
            w = emulation.weights.get(id(module))
            if w is None:
                w = emulation.weights[id(module)] = fp16(module.dense_weight().float())
            x2 = fp16(x.reshape(-1, module.in_features).float())
            y = x2 @ w.T if emulation.mode == "fp32" else half2_matmul(x2, w)
            if module.bias is not None:
                y = y + module.bias.float()
            return y.reshape(*x.shape[:-1], module.out_features).to(x.dtype)

        LutLinear.forward = forward
        return self

    def __exit__(self, *exc) -> None:
        LutLinear.forward = self._forward


@torch.no_grad()
def compare(model, ids: torch.Tensor, window: int) -> dict:
    """Both forms on every window of ids: perplexities, top-1 agreement, largest logit difference."""
    nll = {"fp32": 0.0, "half2": 0.0}
    agree = count = 0
    max_diff = 0.0
    windows = [w for w in ids.split(window) if w.numel() >= 2]
    with Emulation() as emulation:
        for w in tqdm(windows, desc="windows", unit="window"):
            logits = {}
            for mode in ("fp32", "half2"):
                emulation.mode = mode
                logits[mode] = model(input_ids=w[None], use_cache=False).logits[0].float()  # [S, V]
                nll[mode] += float(F.cross_entropy(logits[mode][:-1], w[1:], reduction="sum"))
            agree += int((logits["fp32"][:-1].argmax(-1) == logits["half2"][:-1].argmax(-1)).sum())
            count += w.numel() - 1
            max_diff = max(max_diff, float((logits["fp32"] - logits["half2"]).abs().max()))
    ppl = {mode: math.exp(v / count) for mode, v in nll.items()}
    return {
        "ppl_fp32_products": ppl["fp32"],
        "ppl_half2": ppl["half2"],
        "relative_gap": ppl["half2"] / ppl["fp32"] - 1,
        "top1_agreement": agree / count,
        "max_abs_logit_difference": max_diff,
        "tokens_scored": count,
    }


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="default", help="'default' (the embedded model's sketch) or a sketched dir")
    p.add_argument("--eval-tokens", type=int, default=256, help="every product is emulated: ~1 s a token (2 cores)")
    p.add_argument("--window", type=int, default=256)
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "tasks" / "math_train.json"))
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = p.parse_args(argv)
    from transformers import AutoTokenizer

    from sketch.pipeline import ensure_default_sketch

    path = ensure_default_sketch() if args.model == "default" else Path(args.model)
    base = load_sketched_base(path)
    ids = held_out_solutions(AutoTokenizer.from_pretrained(str(path)), args.data, args.eval_tokens)
    model, _ = load_sketched_model(base, dtype=torch.float32)
    t0 = time.perf_counter()
    result = compare(model, ids, args.window)
    result |= {
        "model": base.source_model or args.model,
        "tokens": {"count": int(ids.numel()), "window": args.window, "what": f"{Path(args.data).name} outputs"},
        "seconds": time.perf_counter() - t0,
        "device": f"cpu ({torch.get_num_threads()} threads), emulated rounding",
    }
    print(f"perplexity with fp32 products {result['ppl_fp32_products']:.4f}, with HALF2 {result['ppl_half2']:.4f} "
          f"({result['relative_gap']:+.2e}); top-1 agreement {result['top1_agreement']:.4f}; largest logit "
          f"difference {result['max_abs_logit_difference']:.3g}")  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "half2_quality_cpu.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
