"""Sixty-second session: why the op at one token (4096x4096, gpr 1) times ~0.6 us above its own shipped config
launched directly (sixty-first session: 8.07 against 7.42 us in one run). Per case (1 token gpr 1, 4 tokens gpr 4):
the op's chosen config, the CUDA kernels one op call launches (torch.profiler), then in turns: the op (a new y each
call), the op into a fixed y (out=), launch_decode with the op's config, and cuBLAS. Prints; writes $OUT/op_gap.json.
"""

import json
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench_kernels import BITS, Layer, cublas_fns, launch_fn, make_batch, ours_fns, rotating, turns_us  # noqa: E402

from kernels import autotune  # noqa: E402
from kernels.triton_decode import launch_decode  # noqa: E402
from kernels.triton_ops import lut_linear_forward  # noqa: E402


def op_into(x, codes, pool, slots, bits, y) -> None:
    lut_linear_forward(x, codes, pool, slots, bits, out=y)


def main() -> None:
    rows = []
    for m, gpr in ((1, 1), (4, 4)):
        layer = Layer(4096, 4096, gpr)
        x, slots = make_batch(m, 1, 4096)
        lut_linear_forward(x, layer.codes[0], layer.pools[0], slots, BITS)
        key = next(e for e in autotune._MEMORY if e.startswith(f"decode|{m},4096,4096,4,{gpr},"))
        config = autotune._MEMORY[key]
        torch.cuda.synchronize()
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
            lut_linear_forward(x, layer.codes[0], layer.pools[0], slots, BITS)
            torch.cuda.synchronize()
        kernels = [e.name for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
        y = torch.empty(m, 4096, dtype=torch.float16, device="cuda")
        launches = {
            "op": rotating(ours_fns(layer, x, slots)),
            "op_out": launch_fn(op_into, layer, x, slots, BITS, y),
            "direct": launch_fn(launch_decode, layer, x, slots, BITS, y, config),
            "cublas": rotating(cublas_fns(layer, x)),
        }
        us = turns_us(launches, rounds=7)
        rows.append({"M": m, "gpr": gpr, "key": key, "config": config, "kernels": kernels, "us": us})
        print(f"{m} tokens gpr {gpr}: {key} -> {config}\n  kernels of one op call: {kernels}\n  "
              + " | ".join(f"{label} {t:.2f}" for label, t in us.items()), flush=True)  # fmt: skip
    (Path(os.environ.get("OUT", ".")) / "op_gap.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
