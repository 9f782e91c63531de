"""The register-LUT prefill kernel's configs against cuBLAS, the op as shipped and the generic fused kernel.

    python3 benchmarks/prefill_grid.py --out OUT_DIR [--gpr 1] [--budget-s 300] [--shapes 4096x4096,...]
                                       [--cases 'x 2048,x 256']

At 2,048 tokens on 4096x4096 the generic fused prefill kernel (L1 gathers, triton_prefill.py) takes ~244 us
whatever the task count, the dense path (a dequantized weight per task, then cuBLAS) 106 us at one task and 226 at
8 (H200, NOTES.md twenty-sixth session; cuBLAS 95). The register-LUT kernel (triton_prefill_prmt.py) dequantizes
its tiles by byte permutes. Per shape and case, all in CUDA graphs (kernels/timing.py, L2 cold) and each checked
against the torch reference (output poisoned first):
- cuBLAS: x @ W.T on one dense fp16 weight;
- shipped: the op (lut_linear_forward) with the case's segments, as an eager engine step passes them;
- generic: the generic fused kernel's candidates (triton_prefill.prefill_candidates), tokens already grouped;
- prmt: the register-LUT kernel over PRMT_GRID (block shapes, warps, stages, operand order), in segment tiles (a
  token tile per chunk of one task's tokens, as the op's plan launches it; before the twenty-seventh session's third
  call: BLOCK_M runs of the tokens in order, which the cases' segments align with).
The grid runs in full on the first shape and case (within --budget-s seconds), then its best PRMT_TOP configs on
the rest. Writes OUT_DIR/prefill_grid_gpr{G}.json and .png (each case's best per kind, as cuBLAS's time / its).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_kernels import BITS, Layer, bench_graph, check, cublas_fns, dims, grid_cli, ours_fns, time_grid  # noqa: E402
from prefill_tasks import case_batch  # noqa: E402

from kernels.reference import lut_linear_reference  # noqa: E402
from kernels.triton_prefill import launch_prefill, prefill_candidates  # noqa: E402
from kernels.triton_prefill_prmt import SegmentTiles, launch_prefill_prmt  # noqa: E402
from kernels.triton_prefill_wgmma import (  # noqa: E402
    launch_prefill_wgmma,
    prefill_wgmma_candidates,
    prefill_wgmma_grid_only,
)

SHAPES = [(4096, 4096), (11008, 4096), (4096, 11008), (12288, 4096), (22016, 4096)]
CASES = [("1 task x 2048", [(0, 2048)]), ("8 tasks x 256", [(t, 256) for t in range(8)]),
         ("4 tasks x 512", [(t, 512) for t in range(4)])]  # fmt: skip
# (BLOCK_M, BLOCK_N, BLOCK_K, warps, stages, W_LEFT): no spills on sm_90 (bench_kernels.py --sm90 prefill). The
# first 14 were the first round's (NOTES.md twenty-seventh session), the next 7 the second's, around its best, the
# next 7 the third's: 16 warps (4 warpgroups sharing the weight tile as the B operand in shared memory); the last 9
# the fourth's, with segment tiles (no masks on x): the best again, and 8 warps held to 128 registers (a 7th field,
# maxnreg) so that two CTAs share an SM.
PRMT_GRID = [(256, 128, 64, 8, 3, 0), (256, 128, 64, 8, 4, 0), (128, 128, 64, 8, 3, 0), (128, 128, 64, 8, 3, 1),
             (256, 128, 64, 8, 3, 1), (128, 256, 64, 8, 3, 0), (128, 128, 128, 8, 3, 0), (128, 128, 128, 8, 3, 1),
             (256, 128, 32, 8, 4, 0), (128, 128, 64, 4, 3, 0), (128, 64, 64, 4, 4, 1), (64, 128, 64, 4, 4, 1),
             (128, 128, 32, 4, 4, 1), (256, 64, 64, 4, 3, 0),
             (256, 128, 64, 8, 4, 1), (256, 128, 64, 8, 2, 1), (256, 64, 64, 4, 4, 0), (512, 64, 64, 8, 3, 0),
             (256, 128, 32, 8, 4, 1), (128, 128, 64, 4, 4, 0), (256, 64, 32, 4, 4, 0),
             (256, 128, 64, 16, 3, 0), (256, 128, 64, 16, 4, 0), (256, 128, 64, 16, 2, 0), (256, 128, 32, 16, 4, 0),
             (128, 256, 64, 16, 3, 0), (128, 128, 64, 16, 3, 0), (256, 64, 64, 16, 3, 0),
             (256, 128, 64, 8, 3, 1), (256, 128, 64, 8, 4, 1), (256, 128, 64, 8, 2, 1), (256, 64, 64, 4, 3, 0),
             (128, 128, 64, 4, 3, 0), (128, 128, 64, 8, 3, 0, 128), (128, 128, 64, 8, 4, 0, 128),
             (128, 128, 64, 8, 2, 0, 128), (128, 64, 64, 4, 4, 1)]  # fmt: skip
PRMT_TOP = 4
KEYS = ("BLOCK_M", "BLOCK_N", "BLOCK_K", "num_warps", "num_stages", "W_LEFT", "maxnreg")
# and the wgmma kernel's
PRINT_KEYS = KEYS + ("STORE_ROWS", "X_TMA", "PINGPONG", "WAIT_ASM", "LUT_STAGE", "CODES_TMA")


def prmt_config(row: tuple) -> dict:
    return dict(zip(KEYS, row + (0,) * (len(KEYS) - len(row)), strict=True))


def main() -> None:
    args = grid_cli(__doc__, budget_s=300.0, extra=[
        ("--gpr", 1, "LUT groups per row"),
        ("--shapes", ",".join(f"{n}x{k}" for n, k in SHAPES), "NxK, comma-separated"),
        ("--cases", "", "only the cases whose label ends with one of these, comma-separated"),
        ("--grid-from", 0, "time PRMT_GRID from this index on (the earlier rounds' configs left out)"),
        ("--kinds", "generic,prmt,wgmma", "the kernels to time, comma-separated"),
        ("--wgmma-tile", "", "BMxBNxSTAGES: only the wgmma configs of that tile (with STORE_ROWS; its variants)"),
    ])  # fmt: skip
    kinds = args.kinds.split(",")
    shapes = dims(args.shapes)
    wanted = [c.strip() for c in args.cases.split(",") if c.strip()]
    cases = [(label, runs) for label, runs in CASES if not wanted or label.endswith(tuple(wanted))]
    rows: list[dict] = []
    grid = [prmt_config(r) for r in PRMT_GRID[args.grid_from :]]
    t_start = time.time()
    for si, (n, k) in enumerate(shapes):
        layer = Layer(n, k, args.gpr)
        for ci, (label, runs) in enumerate(cases):
            x, segments = case_batch(runs, k)
            slots = segments.per_token
            ref = lut_linear_reference(x, layer.codes[0], layer.pools[0], slots, BITS)
            base = {"N": n, "K": k, "gpr": args.gpr, "case": label, "M": x.shape[0]}
            cublas = bench_graph(cublas_fns(layer, x))
            check(layer, x, slots, segments)
            shipped = bench_graph(ours_fns(layer, x, slots, segments))
            rows += [{**base, "kind": "cublas", "us": cublas}, {**base, "kind": "shipped", "us": shipped}]
            print(f"{n}x{k} {label}: cuBLAS {cublas:.1f} us, shipped op {shipped:.1f} us", flush=True)
            generic = [({**c, "kind": "generic"}, base) for c in prefill_candidates(x.shape[0], n, k)]
            if "generic" in kinds:
                time_grid(_launcher(launch_prefill), layer, x, slots, ref, ([g] for g in generic), 1e9, rows,
                          "generic")  # fmt: skip
            tiles = SegmentTiles(segments.starts, tuple(n for _, n in runs))
            if "wgmma" in kinds:
                gs = k // args.gpr
                grid = prefill_wgmma_candidates(k) + prefill_wgmma_grid_only(gs)
                if args.wgmma_tile:
                    bm, bn, st = (int(v) for v in args.wgmma_tile.split("x"))
                    grid = [c for c in grid if (c["BLOCK_M"], c["BLOCK_N"], c["num_stages"]) == (bm, bn, st)
                            and c.get("STORE_ROWS")]  # fmt: skip
                wgmma = [{k: v for k, v in c.items() if k != "WGMMA"} for c in grid]
                time_grid(_wgmma_launcher(tiles), layer, x, slots, ref,
                          ([({**c, "kind": "wgmma"}, base)] for c in wgmma), 1e9, rows, "wgmma")  # fmt: skip
            if "prmt" in kinds:
                if si == 0 and ci == 0:
                    configs, budget = grid, args.budget_s
                else:
                    first = [r for r in rows if r.get("kind") == "prmt" and r["us"] and r["N"] == shapes[0][0]
                             and r["K"] == shapes[0][1] and r["case"] == cases[0][0]]  # fmt: skip
                    best = sorted(first, key=lambda r: r["us"])[:PRMT_TOP]
                    configs, budget = [{key: r.get(key, 0) for key in KEYS} for r in best], 1e9
                time_grid(_launcher(launch_prefill_prmt, tiles), layer, x, slots, ref,
                          ([({**c, "kind": "prmt"}, base)] for c in configs), budget, rows, "prmt")  # fmt: skip
            for kind in ("generic", "prmt", "wgmma"):
                best = min((r for r in rows if r.get("kind") == kind and r["us"] and r["N"] == n and r["K"] == k
                            and r["case"] == label), key=lambda r: r["us"], default=None)  # fmt: skip
                if best:
                    print(f"{n}x{k} {label}: best {kind} {best['us']:.1f} us = {best['us'] / cublas:.2f}x cuBLAS "
                          f"{ {key: best[key] for key in PRINT_KEYS if key in best} }", flush=True)  # fmt: skip
        del layer
        torch.cuda.empty_cache()
    out = {"gpu": torch.cuda.get_device_name(), "bits": BITS, "gpr": args.gpr, "rows": rows,
           "seconds": time.time() - t_start}  # fmt: skip
    (args.out / f"prefill_grid_gpr{args.gpr}.json").write_text(json.dumps(out, indent=0))
    plot(out, args.out / f"prefill_grid_gpr{args.gpr}.png")


def _launcher(launch, tiles: SegmentTiles | None = None):
    """launch with the kind field dropped and tokens already grouped (segments: perm None); tiles: as the op's
    plan launches the register-LUT kernel over several segments (a token tile per segment chunk)."""

    def run(x, codes, pool, slots, bits, y, cfg):
        extra = {"tiles": tiles} if tiles is not None else {}
        launch(x, codes, pool, slots, None, bits, y, {k: v for k, v in cfg.items() if k != "kind"}, **extra)

    run.__name__ = launch.__name__
    return run


def _wgmma_launcher(tiles: SegmentTiles):
    """The wgmma kernel over the case's segment tiles, the kind field dropped."""

    def run(x, codes, pool, slots, bits, y, cfg):
        launch_prefill_wgmma(x, codes, pool, slots, bits, y, {k: v for k, v in cfg.items() if k != "kind"}, tiles)

    run.__name__ = "launch_prefill_wgmma"
    return run


def plot(out: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = out["rows"]
    labels = list(dict.fromkeys(f"{r['N']}x{r['K']}\n{r['case']}" for r in rows))
    kinds = ("shipped", "generic", "prmt", "wgmma")
    fig, ax = plt.subplots(figsize=(max(8, 1.1 * len(labels)), 4.5))
    width = 0.8 / len(kinds)
    for i, kind in enumerate(kinds):
        ratios = []
        for label in labels:
            case = [r for r in rows if f"{r['N']}x{r['K']}\n{r['case']}" == label]
            cublas = next(r["us"] for r in case if r["kind"] == "cublas")
            times = [r["us"] for r in case if r["kind"] == kind and r["us"]]
            ratios.append(cublas / min(times) if times else 0.0)
        ax.bar([j + i * width for j in range(len(labels))], ratios, width, label=kind)
    ax.axhline(1 / 1.3, color="red", linestyle="--", label="bar: 1.3x cuBLAS's time")
    ax.axhline(1.0, color="gray", linewidth=0.8)
    ax.set_xticks([j + width for j in range(len(labels))], labels, fontsize=7)
    ax.set_ylabel("cuBLAS time / time (higher is faster)")
    ax.set_title(f"Prefill, 4-bit, gpr {out['gpr']}, {out['gpu']}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
