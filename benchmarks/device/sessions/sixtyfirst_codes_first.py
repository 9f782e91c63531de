"""Sixty-first session: LOAD_ORDER and deeper prefetch against the shipped one-token configs, in turns.

Runs at 4e547a8 (LOAD_ORDER and X_EARLY were removed after it, in 628dd48).

The clock stamps (decode_timeline.py) put the first K block's end ~2.8-3.0 us after the programs start, ~1 us
per block after it, each block waiting on its own words (one block ahead). The sm_90 code: ptxas hoists the slot's
load and its first use above the codes' loads, so every codes request waits on the slot's DRAM round trip, and the
LUT's requests then queue behind the codes' burst. LOAD_ORDER 1 asks for the codes first, 2 for the slot and the
LUT rows first (volatile loads keep their order); PREFETCH 3 has three blocks in flight. Per shape and gpr: each
config plain and with those (checked against the reference), the op as shipped and cuBLAS, timed in turns (5
rounds, graph replays, L2 flushed). Prints a line per case; writes $OUT/codes_first.json.
"""

import json
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench_kernels import BITS, Layer, cublas_fns, launch_fn, make_batch, ours_fns, rotating, turns_us  # noqa: E402

from kernels.reference import lut_linear_reference  # noqa: E402
from kernels.triton_decode_prmt import launch_decode_prmt  # noqa: E402

CONFIGS = {
    "bn8-w4": {"BLOCK_N": 8, "BLOCK_K": 1024, "num_warps": 4, "PREFETCH": 1, "X_VEC": 1, "HALF2": 1},
    "bn4-w2": {"BLOCK_N": 4, "BLOCK_K": 1024, "num_warps": 2, "PREFETCH": 1, "X_VEC": 1, "HALF2": 1},
    "bn8-w4-k688": {"BLOCK_N": 8, "BLOCK_K": 688, "num_warps": 4, "PREFETCH": 1, "X_VEC": 1, "HALF2": 1},
}


def main() -> None:
    rows = []
    for n, k in [(4096, 4096), (11008, 4096), (4096, 11008)]:
        for gpr in (1, 4):
            layer = Layer(n, k, gpr)
            x, slots = make_batch(1, 1, k)
            ref = lut_linear_reference(x, layer.codes[0], layer.pools[0], slots, BITS)
            launches, errs = {}, {}
            for label, cfg in CONFIGS.items():
                for order, prefetch, x_early in ((0, 1, 0), (0, 1, 1), (1, 1, 0), (1, 1, 1), (0, 2, 1)):
                    c = cfg | {"LOAD_ORDER": order, "PREFETCH": prefetch, "X_EARLY": x_early, "SPLIT_K": 1,
                               "num_stages": 1}  # fmt: skip
                    y = torch.full((1, n), float("nan"), dtype=torch.float16, device="cuda")
                    try:
                        launch_decode_prmt(x, layer.codes[0], layer.pools[0], slots, BITS, y, c)
                    except ValueError as e:  # BLOCK_K not dividing the group at gpr 4 on 11008 columns
                        print(f"  {label} o{order} p{prefetch} x{x_early}: {e}")
                        continue
                    name = f"{label}-o{order}-p{prefetch}{'-x' if x_early else ''}"
                    errs[name] = (y.float() - ref.float()).abs().max().item()
                    launches[name] = launch_fn(launch_decode_prmt, layer, x, slots, BITS, y, c)
            if not errs:
                continue
            launches["op"] = rotating(ours_fns(layer, x, slots))
            launches["cublas"] = rotating(cublas_fns(layer, x))
            us = turns_us(launches, rounds=5)
            row = {"N": n, "K": k, "gpr": gpr, "us": us, "err": errs}
            rows.append(row)
            cub = us["cublas"]
            kernels = " | ".join(f"{name} {t:.2f} ({cub / t:.2f}x)" for name, t in us.items() if name in errs)
            print(f"{n}x{k} gpr {gpr}: cuBLAS {cub:.2f} us | op {us['op']:.2f} ({cub / us['op']:.2f}x) | {kernels} | "
                  f"max err {max(errs.values()):.1e}", flush=True)  # fmt: skip
    out = Path(os.environ.get("OUT", "."))
    (out / "codes_first.json").write_text(json.dumps({"gpu": torch.cuda.get_device_name(), "rows": rows}))


if __name__ == "__main__":
    main()
