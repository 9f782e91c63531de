"""Sixty-second session: the fragment kernel's split-K sum with its partials loaded together (SUM_AT_ONCE, the
default: 8 loads a lane over the program's tiles) against one split a trip (SUM_AT_ONCE 1, as before), on the
H100's shipped one-task choices (kernels/tuned/, re-tuned this session) at 4, 8 and 16 tokens where they are the
fragment kernel, timed in turns with cuBLAS (graph replays, L2 flushed by rotating copies), each checked against the
reference. Prints a line per case; writes $OUT/sum_at_once.json.
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench_kernels import BITS, checked_launch, cublas_fns, layers, make_batch, rotating, turns_us  # noqa: E402

from kernels.reference import lut_linear_reference  # noqa: E402
from kernels.triton_decode import MODE_MMA, launch_decode  # noqa: E402

# 8 tokens: no shipped key; the 4-token choice at 8 tokens (one tile of tokens either way)
KEYS = {4: 4, 8: 4, 16: 16}


def main() -> None:
    shipped = json.loads(Path("kernels/tuned/NVIDIA_H100_80GB_HBM3.v8.json").read_text())
    rows = []
    for n, k, gpr, layer in layers():
        for m, key_m in KEYS.items():
            choice = shipped.get(f"decode|{key_m},{n},{k},{BITS},{gpr},torch.float16,torch.float16")
            if not choice or choice.get("MODE") != MODE_MMA:
                continue
            x, slots = make_batch(m, 1, k)
            ref = lut_linear_reference(x, layer.codes[0], layer.pools[0], slots, BITS)
            launches, errs = {}, {}
            for name, cfg in (("at_once", choice), ("one_a_trip", choice | {"SUM_AT_ONCE": 1})):
                launches[name], errs[name] = checked_launch(launch_decode, layer, x, slots, ref, cfg)
            launches["cublas"] = rotating(cublas_fns(layer, x))
            us = turns_us(launches, rounds=7)
            rows.append({"N": n, "K": k, "gpr": gpr, "M": m, "config": choice, "us": us, "err": errs})
            cub = us["cublas"]
            print(f"{m} tokens {n}x{k} gpr {gpr}: cuBLAS {cub:.2f} us | one a trip {us['one_a_trip']:.2f} "
                  f"({cub / us['one_a_trip']:.2f}x) | at once {us['at_once']:.2f} ({cub / us['at_once']:.2f}x) | "
                  f"max err {max(errs.values()):.1e} | {choice}", flush=True)  # fmt: skip
    out = Path(os.environ.get("OUT", "."))
    (out / "sum_at_once.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
