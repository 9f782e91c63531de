"""(X_FIRST was removed in the sixty-third session after this A/B: results/x_first_h100_sixtythird.json; the script
stays as the record of what ran.) Sixty-second session, prepared for the next: PRELOAD with X_FIRST (each slot's x
asked for before its turn) against PRELOAD as shipped, the few-task class's kernel. In PRELOAD's sm_90 code each
word's x load sits one word ahead of that word's MMAs (an L2 round trip a word); X_FIRST carries each slot's x into
its turn, so all of it is in flight at once (tests/kernels/test_triton_mma.py checks the code; 144 registers at 16
words, 4 warps, one tile). Per shape (4096x4096, the fused q/k/v 12288x4096; gpr 1) and (tokens, tasks):
PRELOAD_CANDIDATES with X_FIRST 0 and 1, checked against the reference, then the op told the task count (its few-task
or one-task class) and cuBLAS, in turns (5 rounds, graph replays, L2 flushed by rotating copies). Prints a line per
case; writes $OUT/x_first.json.
"""

import json
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench_kernels import (  # noqa: E402
    BITS,
    Layer,
    checked_launch,
    cublas_fns,
    make_batch,
    ours_fns,
    rotating,
    turns_us,
)

from kernels.reference import lut_linear_reference  # noqa: E402
from kernels.triton_decode import few_task_candidates, launch_decode  # noqa: E402

CASES = [(4, 1), (8, 2), (16, 2), (16, 4)]  # (tokens, distinct tasks)


def main() -> None:
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    rows = []
    for n, k in [(4096, 4096), (12288, 4096)]:
        layer = Layer(n, k, 1)
        for m, tasks in CASES:
            x, slots = make_batch(m, tasks, k)
            ref = lut_linear_reference(x, layer.codes[0], layer.pools[0], slots, BITS)
            launches, errs = {}, {}
            for config in few_task_candidates(n, k, sms, k):
                if not config.get("PRELOAD"):
                    continue
                for x_first in (0, 1):
                    c = config | {"X_FIRST": x_first}
                    name = f"w{c['num_warps']}-r{c['ROWS']}-wpl{c['WPL']}-x{x_first}"
                    launches[name], errs[name] = checked_launch(launch_decode, layer, x, slots, ref, c)
            launches["op"] = rotating(ours_fns(layer, x, slots, num_tasks=tasks))
            launches["cublas"] = rotating(cublas_fns(layer, x))
            us = turns_us(launches, rounds=5)
            rows.append({"N": n, "K": k, "M": m, "tasks": tasks, "us": us, "err": errs})
            cub = us["cublas"]
            best = {xf: min((t, name) for name, t in us.items() if name.endswith(f"-x{xf}")) for xf in (0, 1)}
            print(f"{m} tokens / {tasks} tasks {n}x{k}: cuBLAS {cub:.2f} us | op {us['op']:.2f} | best X_FIRST 0 "
                  f"{best[0][1]} {best[0][0]:.2f} | best X_FIRST 1 {best[1][1]} {best[1][0]:.2f} | max err "
                  f"{max(errs.values()):.1e}\n    " + " | ".join(f"{name} {t:.2f}" for name, t in us.items()
                                                                 if name in errs), flush=True)  # fmt: skip
        del layer
        torch.cuda.empty_cache()
    (Path(os.environ.get("OUT", ".")) / "x_first.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
