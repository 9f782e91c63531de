"""Many tasks in one decode batch on the wgmma bucket kernel, against the op as shipped (the mma.sync bucket kernel),
cuBLAS and the bandwidth floor.

    python3 benchmarks/bucket_wgmma_grid.py --out OUT_DIR [--gpr 1] [--cases 16x16,64x16,8x8] [--wide]

The 16-task bar asks for 2x faster than cuBLAS at 16 tokens over 16 tasks; the shipped bucket kernel (one-hot MMA on
mma.sync, latency-bound at 2-3 programs an SM) takes ~2.1x cuBLAS's time. kernels/triton_bucket_wgmma.py builds the
one-hot in wgmma's A registers and streams x by TMA. Per shape and case (tokens x distinct tasks, tasks interleaved):
every candidate config, checked against the torch reference, timed as the kernel table times (CUDA-graph replays,
L2 flushed before each). Writes OUT_DIR/bucket_wgmma_grid_gpr{G}.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_kernels import BITS, Layer, checked_timings, dims, graph_us, make_batch  # noqa: E402

from kernels.reference import lut_linear_reference  # noqa: E402
from kernels.triton_bucket_wgmma import (  # noqa: E402
    bucket_wgmma_candidates,
    bucket_wide_candidates,
    launch_bucket_wgmma,
)
from kernels.triton_ops import lut_linear_forward  # noqa: E402

SHAPES = [(4096, 4096), (11008, 4096), (4096, 11008)]
BANDWIDTH = 4.22e12  # bytes/s, the H200's measured copy bandwidth (bench_kernels' floor)


def run_case(layer: Layer, m: int, tasks: int, gpr: int, wide: bool = False) -> dict:
    n, k = layer.n, layer.k
    codes, pool = layer.codes[0], layer.pools[0]
    x, slots = make_batch(m, tasks, k)
    ref = lut_linear_reference(x, codes, pool, slots, BITS)
    cublas = graph_us(lambda: x @ layer.weights[0].T)
    shipped = graph_us(lambda: lut_linear_forward(x, codes, pool, slots, BITS, decode_kernel="bucket"))
    floor = layer.floor_bytes(m, tasks) / BANDWIDTH * 1e6
    y = torch.empty(m, n, dtype=torch.float16, device="cuda")
    gs = -(-k // gpr)
    configs = bucket_wide_candidates(m, gs) if wide else bucket_wgmma_candidates(m, gs, mma_v2=True)
    timed = checked_timings(configs,
                            lambda c: launch_bucket_wgmma(x, codes, pool, slots, BITS, y, c), y, ref)  # fmt: skip
    best_us, best, err = timed[0] if timed else (float("nan"), None, float("nan"))
    print(f"{n}x{k} gpr {gpr} M={m} x {tasks} tasks: cuBLAS {cublas:.1f} us, shipped bucket {shipped:.1f} "
          f"({cublas / shipped:.2f}x cuBLAS), wgmma bucket {best_us:.1f} ({cublas / best_us:.2f}x; floor {floor:.1f}) "
          f"{best} err {err:.1e}; others {[round(u, 1) for u, _, _ in timed[1:]]}", flush=True)  # fmt: skip
    v2 = [t for t in timed if t[1].get("MMA_V2")]
    if v2:
        print(f"  best MMA_V2 {v2[0][0]:.1f} us {v2[0][1]}; best wgmma "
              f"{min((u for u, c, _ in timed if not c.get('MMA_V2')), default=float('nan')):.1f}", flush=True)
    return {"N": n, "K": k, "M": m, "tasks": tasks, "gpr": gpr, "cublas_us": cublas, "shipped_us": shipped,
            "wgmma_us": best_us, "wgmma_config": best, "floor_us": floor, "rel_err": err,
            "all": [(u, c) for u, c, _ in timed]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--gpr", type=int, default=1)
    parser.add_argument("--cases", default="16x16,64x16,8x8", help="tokens x tasks, comma-separated")
    parser.add_argument("--wide", action="store_true", help="the WIDE candidates (bucket_wide_candidates)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    cases = dims(args.cases)
    rows = []
    for n, k in SHAPES:
        layer = Layer(n, k, args.gpr)
        rows += [run_case(layer, m, tasks, args.gpr, args.wide) for m, tasks in cases]
        del layer
        torch.cuda.empty_cache()
    out = {"gpu": torch.cuda.get_device_name(), "rows": rows}
    name = f"bucket_{'wide' if args.wide else 'wgmma'}_grid_gpr{args.gpr}.json"
    (args.out / name).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
