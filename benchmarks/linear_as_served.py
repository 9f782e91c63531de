"""The one-task linear op where a decode step runs it: after the fused RMSNorm, in a CUDA graph, with PDL.

bench_kernels.py times each op alone (a cold L2, nothing before it), which is the issue's comparison with cuBLAS.
In a decode step every projection follows another kernel; with PDL (kernels/triton_common.py, pdl_enabled) the
fused decoder kernels let the next linear start its codes, slot and LUT loads at once, and the linear waits only
before it reads x. This script times, for each shape and token count, one task, gpr 1 (and 4):
- alone: the op and cuBLAS (x @ W.T, fp16 dense), as bench_kernels.py does;
- after the norm: each after server.triton_fused.rms_norm (the norm's own time not counted: kernels.timing
  graph_time_ms's preceded_by), ours with PDL on and off, cuBLAS (no PDL: it starts when the norm has finished);
- with --warm, ours (PDL off) after a copy that brings the slots into L2 (as in a step, where every projection
  before reads them), and after one that brings the slots and the task's LUT rows: what the op's chain before its
  first chunk (slot -> LUT rows -> tables) costs in DRAM round trips after the benchmark's L2 flush.

Run on a GPU: `python benchmarks/linear_as_served.py` (JSON + PNG under benchmarks/results).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kernels import lut_linear  # noqa: E402
from kernels.timing import graph_time_ms  # noqa: E402
from kernels.triton_common import pdl_available, pdl_scope  # noqa: E402
from server.triton_fused import rms_norm  # noqa: E402

SHAPES = ((4096, 4096), (12288, 4096), (22016, 4096), (4096, 11008), (11008, 4096))  # (N, K): Llama-2-7B's


def time_shape(n: int, k: int, tokens: int, gpr: int, g: torch.Generator, warm: bool = False) -> dict:
    dev = torch.device("cuda")
    codes = torch.randint(0, 256, (n, k // 2), generator=g, device=dev, dtype=torch.uint8)  # 4-bit, packed
    pool = (torch.randn(2, n, gpr, 16, generator=g, device=dev) * 0.02).half()
    slots = torch.zeros(tokens, dtype=torch.int32, device=dev)  # one task; int32 keeps PDL on (triton_ops)
    weight = (torch.randn(n, k, generator=g, device=dev) * 0.02).half()
    h = torch.randn(tokens, k, generator=g, device=dev).half()
    norm_w = torch.ones(k, dtype=torch.float16, device=dev)
    x = rms_norm(h, norm_w, 1e-5)

    def ours():
        return lut_linear(x, codes, pool, slots, 4, gpr, check_slot_range=False, num_tasks=1)

    def cublas():
        return x @ weight.T

    def norm():
        return rms_norm(h, norm_w, 1e-5)

    rec = {"n": n, "k": k, "tokens": tokens, "gpr": gpr}
    with pdl_scope():
        rec["ours_alone_us"] = graph_time_ms(ours) * 1e3
        rec["ours_after_norm_us"] = graph_time_ms(ours, preceded_by=norm) * 1e3
    with pdl_scope(False):
        rec["ours_after_norm_no_pdl_us"] = graph_time_ms(ours, preceded_by=norm) * 1e3
    if warm:  # slot 0's LUT is pool[0] [n, gpr, 16]: 32 * n * gpr bytes
        slots_sink, lut_sink = torch.empty_like(slots), torch.empty_like(pool[0])
        with pdl_scope(False):
            rec["ours_alone_no_pdl_us"] = graph_time_ms(ours) * 1e3
            rec["ours_slot_warm_us"] = graph_time_ms(ours, preceded_by=lambda: slots_sink.copy_(slots)) * 1e3
            rec["ours_slot_lut_warm_us"] = graph_time_ms(
                ours, preceded_by=lambda: (slots_sink.copy_(slots), lut_sink.copy_(pool[0]))) * 1e3
    rec["cublas_alone_us"] = graph_time_ms(cublas) * 1e3
    rec["cublas_after_norm_us"] = graph_time_ms(cublas, preceded_by=norm) * 1e3
    rec["x_alone"] = rec["cublas_alone_us"] / rec["ours_alone_us"]
    rec["x_after_norm"] = rec["cublas_after_norm_us"] / rec["ours_after_norm_us"]
    return rec


def plot(rows: list[dict], path: Path, device: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(rows)), 4))
    labels = [f"{r['n']}x{r['k']}\nM={r['tokens']} gpr {r['gpr']}" for r in rows]
    for i, (key, name) in enumerate((("x_alone", "alone"), ("x_after_norm", "after the norm (PDL)"))):
        ax.bar([j + 0.4 * i for j in range(len(rows))], [r[key] for r in rows], width=0.4, label=name)
    ax.axhline(2.5, color="k", linestyle="--", linewidth=1, label="bar (2.5x)")
    ax.set_xticks([j + 0.2 for j in range(len(rows))], labels, fontsize=7)
    ax.set_ylabel("cuBLAS time / ours")
    ax.set_title(f"One-task linear against fp16 cuBLAS ({device})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokens", type=int, nargs="+", default=[1, 16])
    p.add_argument("--gpr", type=int, nargs="+", default=[1])
    p.add_argument("--shapes", nargs="+", default=[f"{n}x{k}" for n, k in SHAPES], help="NxK, e.g. 4096x4096")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "linear_as_served")
    p.add_argument("--warm", action="store_true", help="also ours with the slots, then the slots and LUT, in L2")
    args = p.parse_args()
    if not torch.cuda.is_available():
        sys.exit("linear_as_served.py times CUDA kernels: run it on a GPU")
    g = torch.Generator(device="cuda").manual_seed(0)
    print(f"{torch.cuda.get_device_name()}; PDL available: {pdl_available(torch.device('cuda'))}", flush=True)
    rows = []
    for gpr in args.gpr:
        for tokens in args.tokens:
            for n, k in (tuple(int(d) for d in shape.split("x")) for shape in args.shapes):
                rec = time_shape(n, k, tokens, gpr, g, args.warm)
                rows.append(rec)
                print(f"{n}x{k} M={tokens} gpr {gpr}: alone ours {rec['ours_alone_us']:.1f} us, cuBLAS "
                      f"{rec['cublas_alone_us']:.1f} (x{rec['x_alone']:.2f}); after the norm ours "
                      f"{rec['ours_after_norm_us']:.1f} (PDL off {rec['ours_after_norm_no_pdl_us']:.1f}), cuBLAS "
                      f"{rec['cublas_after_norm_us']:.1f} (x{rec['x_after_norm']:.2f})", flush=True)
                if args.warm:
                    print(f"  PDL off: cold {rec['ours_alone_no_pdl_us']:.1f} us, slots in L2 "
                          f"{rec['ours_slot_warm_us']:.1f}, slots and LUT in L2 {rec['ours_slot_lut_warm_us']:.1f}",
                          flush=True)
                torch.cuda.empty_cache()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    out = {"device": torch.cuda.get_device_name(), "rows": rows}
    args.out.with_suffix(".json").write_text(json.dumps(out, indent=1))
    plot(rows, args.out.with_suffix(".png"), out["device"])
    print(f"wrote {args.out.with_suffix('.json')} and .png", flush=True)


if __name__ == "__main__":
    main()
