"""Sixty-fourth session, for the next: the H100's shipped one-task decode choices at 4 and 8 tokens against the same
with PUSH (the split's programs as one cluster, the partials pushed into their rows' owner CTA: kernels/
split_k_push.py), where their split-K is 2, 4 or 8 and divides their warps (the 4096x4096 keys: 8 warps at split 8),
in turns with cuBLAS over 5 rounds (graph replays, L2 flushed by rotating copies), each checked against the
reference. argv[1]: the shipped file (default the H100's). Prints a line per case; writes $OUT/push_ab.json.
Prediction (the bare sums, cluster_sum_timing.py): 0.7-1.0 us off at 4 tokens (9.3-10.7 us), 1.2-1.6 at 8.
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench_kernels import BITS, checked_launch, cublas_fns, layers, make_batch, rotating, turns_us  # noqa: E402

from kernels.reference import lut_linear_reference  # noqa: E402
from kernels.triton_decode import launch_decode  # noqa: E402


def main() -> None:
    shipped = json.loads(Path(sys.argv[1] if len(sys.argv) > 1 else "kernels/tuned/NVIDIA_H100_80GB_HBM3.v8.json")
                         .read_text())  # fmt: skip
    rows = []
    for n, k, gpr, layer in layers():
        for m in (4, 8):
            choice = shipped.get(f"decode|{m},{n},{k},4,{gpr},torch.float16,torch.float16")
            split = (choice or {}).get("SPLIT_K", 1)
            if not choice or split not in (2, 4, 8) or choice.get("num_warps", 4) % split:
                continue
            x, slots = make_batch(m, 1, k)
            ref = lut_linear_reference(x, layer.codes[0], layer.pools[0], slots, BITS)
            launches, errs = {"cublas": rotating(cublas_fns(layer, x))}, {}
            for label, cfg in {"shipped": choice, "push": choice | {"PUSH": 1}}.items():
                launches[label], errs[label] = checked_launch(launch_decode, layer, x, slots, ref, cfg)
            us = turns_us(launches, rounds=5)
            rows.append({"N": n, "K": k, "gpr": gpr, "M": m, "config": choice, "us": us, "err": errs})
            print(f"{m} tokens {n}x{k} gpr {gpr}: " + " | ".join(f"{label} {t:.2f}" for label, t in us.items())
                  + f" | max err {max(errs.values()):.1e} | {choice}", flush=True)  # fmt: skip
    (Path(os.environ.get("OUT", ".")) / "push_ab.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
