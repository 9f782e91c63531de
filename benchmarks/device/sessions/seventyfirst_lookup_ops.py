"""Seventy-first session: the byte-permute lookup (kernels/prmt_lut.py) with one ALU instruction fewer a code word
(`and 0x77777777` once, the second half's selectors by a shift: prmt reads only its selector's low 16 bits) and,
in a third form, that shift as `mul.hi.u32 s, s, 0x10000` (IMAD.HI: the FMA-heavy pipe instead of the ALU one).
Run once per source tree (seventyfirst_lookup_ops.sh copies the repository three times, each with its own
prmt_lut.py) under the device's Triton; times the op as the engine calls it (one task, told so; shipped choices)
and cuBLAS in turns (graph replays, L2 flushed), each output checked against the torch reference.
Prints one JSON line a case."""

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from benchmarks.bench_kernels import BITS, Layer, cublas_fns, make_batch, ours_fns, rotating, turns_us  # noqa: E402
from kernels.reference import lut_linear_reference  # noqa: E402

CASES = [(m, 4096, 4096, 1) for m in (1, 4, 8, 16)] + [(m, 4096, 4096, 4) for m in (1, 4)] + \
        [(m, 11008, 4096, 1) for m in (1, 4, 16)] + [(2048, 4096, 4096, 1), (2048, 11008, 4096, 1)]  # fmt: skip


def main(tree: str) -> None:
    layers: dict = {}
    for m, n, k, gpr in CASES:
        if (n, k, gpr) not in layers:
            layers.clear()
            torch.cuda.empty_cache()
            layers[(n, k, gpr)] = Layer(n, k, gpr)
        layer = layers[(n, k, gpr)]
        x, slots = make_batch(m, 1, k)
        fns = ours_fns(layer, x, slots, num_tasks=1)
        y = fns[0]()
        err = (y.float() - lut_linear_reference(x, layer.codes[0], layer.pools[0], slots, BITS).float()).abs().max()
        us = turns_us({"cublas": rotating(cublas_fns(layer, x)), "ours": rotating(fns)}, rounds=5)
        print(json.dumps({"tree": tree, "M": m, "N": n, "K": k, "gpr": gpr, "ours": round(us["ours"], 3),
                          "cublas": round(us["cublas"], 3), "ratio": round(us["cublas"] / us["ours"], 3),
                          "err": float(err)}), flush=True)  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1])
