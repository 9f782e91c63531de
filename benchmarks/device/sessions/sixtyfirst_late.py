"""Sixty-first session, prepared for the next: LATE against the shipped one-token configs, in turns.

The clock stamps (decode_timeline.py) put the later blocks one DRAM round trip apart (~1 us) with one block in
flight, and three blocks up front delay the first block's LUT rows. LATE asks for blocks 2 .. PREFETCH once the
first tables are built. Per shape and gpr: the shipped configs (BN 8 x 4 warps, BN 4 x 2 warps; BLOCK_K 1,024, or
256 where K is 11,008) with PREFETCH 1, and with PREFETCH 2 and 3 up front and LATE, each checked against the
reference, the op as shipped and cuBLAS, timed in turns (5 rounds, graph replays, L2 flushed). Prints a line per
case; writes $OUT/late.json.
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

CONFIGS = {"bn8-w4": {"BLOCK_N": 8, "num_warps": 4}, "bn4-w2": {"BLOCK_N": 4, "num_warps": 2}}
VARIANTS = {"p1": {"PREFETCH": 1}, "p2": {"PREFETCH": 2}, "p2-late": {"PREFETCH": 2, "LATE": 1},
            "p3-late": {"PREFETCH": 3, "LATE": 1}}  # fmt: skip


def main() -> None:
    rows = []
    for n, k in [(4096, 4096), (11008, 4096), (4096, 11008)]:
        for gpr in (1, 4):
            layer = Layer(n, k, gpr)
            x, slots = make_batch(1, 1, k)
            ref = lut_linear_reference(x, layer.codes[0], layer.pools[0], slots, BITS)
            launches, errs = {}, {}
            for label, cfg in CONFIGS.items():
                for vname, variant in VARIANTS.items():
                    c = cfg | variant | {"BLOCK_K": 1024 if k == 4096 else 256, "X_VEC": 1, "HALF2": 1,
                                         "SPLIT_K": 1, "num_stages": 1}  # fmt: skip
                    y = torch.full((1, n), float("nan"), dtype=torch.float16, device="cuda")
                    try:
                        launch_decode_prmt(x, layer.codes[0], layer.pools[0], slots, BITS, y, c)
                    except ValueError:  # 4096x11008 at gpr 4: groups of 2,752 columns, which 256 does not divide
                        continue
                    name = f"{label}-{vname}"
                    errs[name] = (y.float() - ref.float()).abs().max().item()
                    launches[name] = launch_fn(launch_decode_prmt, layer, x, slots, BITS, y, c)
            if not errs:
                continue
            launches["op"] = rotating(ours_fns(layer, x, slots))
            launches["cublas"] = rotating(cublas_fns(layer, x))
            us = turns_us(launches, rounds=5)
            rows.append({"N": n, "K": k, "gpr": gpr, "us": us, "err": errs})
            cub = us["cublas"]
            kernels = " | ".join(f"{name} {t:.2f} ({cub / t:.2f}x)" for name, t in us.items() if name in errs)
            print(f"{n}x{k} gpr {gpr}: cuBLAS {cub:.2f} us | op {us['op']:.2f} ({cub / us['op']:.2f}x) | {kernels} | "
                  f"max err {max(errs.values()):.1e}", flush=True)  # fmt: skip
    out = Path(os.environ.get("OUT", "."))
    (out / "late.json").write_text(json.dumps({"gpu": torch.cuda.get_device_name(), "rows": rows}))


if __name__ == "__main__":
    main()
