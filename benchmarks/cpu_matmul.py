"""The CPU path's matmuls: each weight form of server/cpu_weights.py on the default model's projection shapes.

    python3 benchmarks/cpu_matmul.py [--out DIR] [--rows 1 2 8 64] [--repeats 200]

Per shape of SmolLM2-135M (fused q/k/v 960x576, o 576x576, fused gate/up 3072x576, down 576x1536, lm_head
49152x576) and row count: microseconds per call of x @ W.T for
  - float32 (a plain tensor: MKL),
  - bfloat16 plain (matmul_few_shapes: oneDNN through aten's matmul),
  - bfloat16 packed (PackedBf16Weight: the weight reordered once for oneDNN's linear),
  - int8 (Int8Weight: aten's int8 weight-only kernel up to 4 rows, its bf16 copy above);
each timed on one weight called again and again (cache-warm), and, at one row, over a whole model's worth of
weights in turn (30 layers x 4 projections: what one decode step reads). Writes DIR/cpu_matmul.json and
DIR/cpu_matmul.png. Times are medians of interleaved rounds (the forms take turns, so a noisy neighbour on a
shared machine slows all of them alike).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.cpu_weights import Int8Weight, PackedBf16Weight, cpu_matmul, packed_bf16_ok  # noqa: E402

SHAPES = {"qkv 960x576": (960, 576), "o 576x576": (576, 576), "gate_up 3072x576": (3072, 576),
          "down 576x1536": (576, 1536), "lm_head 49152x576": (49152, 576)}  # fmt: skip
LAYERS = 30


def forms(w: torch.Tensor) -> dict:
    """The weight forms of one float32 W [N, K]."""
    out = {"float32": w, "bfloat16 plain": w.bfloat16(), "int8": Int8Weight(w)}
    if packed_bf16_ok():
        out["bfloat16 packed"] = PackedBf16Weight(w)
    return out


def time_calls(calls: dict, repeats: int, rounds: int = 5) -> dict:
    """Median microseconds per call of each callable, interleaved over rounds."""
    samples: dict = {name: [] for name in calls}
    for f in calls.values():
        f()  # warm: oneDNN builds its kernel on the first call of a shape
    for _ in range(rounds):
        for name, f in calls.items():
            t0 = time.perf_counter()
            for _ in range(repeats):
                f()
            samples[name].append((time.perf_counter() - t0) / repeats * 1e6)
    return {name: statistics.median(v) for name, v in samples.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    ap.add_argument("--rows", type=int, nargs="+", default=[1, 2, 8, 64])
    ap.add_argument("--repeats", type=int, default=200)
    args = ap.parse_args()
    torch.manual_seed(0)
    results: dict = {"machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
                     "torch": torch.__version__, "packed_bf16": packed_bf16_ok(), "warm": {}, "model_step": {}}
    for label, (n, k) in SHAPES.items():
        weights = forms(torch.randn(n, k) / k**0.5)
        for m in args.rows:
            x = torch.randn(m, k)
            calls = {name: (lambda w=w, x=x: cpu_matmul(x, w)) for name, w in weights.items()}
            us = time_calls(calls, max(5, args.repeats // max(1, n // 4096)))
            results["warm"].setdefault(label, {})[m] = us
            print(f"{label:>18} M={m:<3} " + "  ".join(f"{name} {t:8.1f}" for name, t in us.items()), flush=True)
    # one decode step's projections: every layer's own weights in turn (they do not all stay in the caches)
    layer_shapes = [SHAPES[s] for s in ("qkv 960x576", "o 576x576", "gate_up 3072x576", "down 576x1536")]
    xs = {k: torch.randn(1, k) for _, k in layer_shapes}
    layers = [(xs[k], forms(torch.randn(n, k) / k**0.5)) for _ in range(LAYERS) for n, k in layer_shapes]
    step = {name: (lambda name=name: [cpu_matmul(x, f[name]) for x, f in layers]) for name in layers[0][1]}
    us = time_calls(step, 5)
    nbytes = sum(n * k for n, k in layer_shapes) * LAYERS
    results["model_step"] = {"weights": nbytes, "us": us}
    print("one decode step's 120 projections (one row): " + "  ".join(f"{name} {t / 1e3:.2f} ms" for name, t in
                                                                      us.items()))  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cpu_matmul.json").write_text(json.dumps(results, indent=1))
    plot(results, args.out / "cpu_matmul.png")


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shapes = list(results["warm"])
    fig, axes = plt.subplots(1, len(shapes), figsize=(4 * len(shapes), 3.6), squeeze=False)
    for ax, label in zip(axes[0], shapes, strict=True):
        rows = sorted(results["warm"][label], key=int)
        for name in results["warm"][label][rows[0]]:
            ax.plot([int(r) for r in rows], [results["warm"][label][r][name] for r in rows], marker="o", label=name)
        ax.set_xscale("log", base=2)
        ax.set_title(label)
        ax.set_xlabel("rows (tokens)")
        ax.set_ylabel("us per call")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"CPU matmul per weight form ({results['machine']})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
