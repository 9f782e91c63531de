"""Sixty-second session, prepared for the next: the one-token kernel's BN 4 x 2 warps against the H100's shipped
BN 8 x 4 warps (the LATE run timed 7.18 against 7.42 us at 4096x4096 gpr 1), both with BLOCK_K 1,024, PREFETCH 1,
X_VEC and HALF2, in turns over 9 rounds (graph replays, L2 flushed by rotating copies) with the op and cuBLAS, on the
two shapes of 4,096 columns at gpr 1 and 4. Prints a line per case; writes $OUT/one_token_bn.json.
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench_kernels import (  # noqa: E402
    BITS,
    checked_launch,
    cublas_fns,
    layers,
    make_batch,
    ours_fns,
    rotating,
    turns_us,
)

from kernels.reference import lut_linear_reference  # noqa: E402
from kernels.triton_decode_prmt import launch_decode_prmt  # noqa: E402

BASE = {"BLOCK_K": 1024, "PREFETCH": 1, "X_VEC": 1, "HALF2": 1, "SPLIT_K": 1, "num_stages": 1}
CONFIGS = {"bn8-w4": {"BLOCK_N": 8, "num_warps": 4}, "bn4-w2": {"BLOCK_N": 4, "num_warps": 2},
           "bn4-w4": {"BLOCK_N": 4, "num_warps": 4}, "bn8-w8": {"BLOCK_N": 8, "num_warps": 8}}  # fmt: skip


def main() -> None:
    rows = []
    for n, k, gpr, layer in layers([(4096, 4096), (11008, 4096)]):
        x, slots = make_batch(1, 1, k)
        ref = lut_linear_reference(x, layer.codes[0], layer.pools[0], slots, BITS)
        launches, errs = {}, {}
        for label, cfg in CONFIGS.items():
            launches[label], errs[label] = checked_launch(launch_decode_prmt, layer, x, slots, ref, BASE | cfg)
        launches["op"] = rotating(ours_fns(layer, x, slots))
        launches["cublas"] = rotating(cublas_fns(layer, x))
        us = turns_us(launches, rounds=9)
        rows.append({"N": n, "K": k, "gpr": gpr, "us": us, "err": errs})
        cub = us["cublas"]
        print(f"{n}x{k} gpr {gpr}: cuBLAS {cub:.2f} us | " + " | ".join(
            f"{label} {t:.2f} ({cub / t:.2f}x)" for label, t in us.items() if label != "cublas")
            + f" | max err {max(errs.values()):.1e}", flush=True)  # fmt: skip
    (Path(os.environ.get("OUT", ".")) / "one_token_bn.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
