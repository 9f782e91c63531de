"""Sixty-second session: the fragment kernel's chunks asked for ahead (AHEAD) against its loads where looked up.

The sixty-first session's clock stamps (decode_timeline_mma.py) put each chunk of the fragment kernel's
chunks-in-turn loop ~1.5 us after the one before at 4 tokens (4096x4096, gpr 4): the sm_90 code asks for a chunk's
words at its start (a DRAM round trip) and for x's quads as the registers of the word before free (two L2 round
trips after it). AHEAD 1 asks for a chunk's words and x at once, 2 and 3 one or two chunks before the chunk.
Per shape, gpr (1, 4) and token count (4, 16; one task): the shipped fragment candidates and the H100 grid's best
at 4 tokens (8 warps, 1 row block, 4 words, split-K 8 waves), each with AHEAD 0, 2 and 3 (1 for the first three),
checked against the reference, then the op as shipped and cuBLAS, timed in turns (5 rounds, graph replays, L2
flushed by rotating copies). Prints a line per case; writes $OUT/ahead.json.
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
    checked_launch,
    cublas_fns,
    layers,
    make_batch,
    ours_fns,
    rotating,
    turns_us,
)

from kernels.reference import lut_linear_reference  # noqa: E402
from kernels.triton_decode import split_k_fragment_configs  # noqa: E402
from kernels.triton_decode_mma import MMA_CANDIDATES, launch_decode_mma  # noqa: E402

TABLE = [(8, 1, 4, 8)] + MMA_CANDIDATES
# second run (argv[1] == "h100"): the H100 grid's best at 4 tokens as waves (8 warps, split-K 8 at 4096 rows: 2
# waves) and its neighbours, each with AHEAD 0-3
TABLE_H100 = [(8, 1, 4, 2), (4, 1, 4, 2), (2, 1, 4, 8), (2, 1, 4, 4)]


def main() -> None:
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    table, label_out = (TABLE_H100, "ahead_h100") if sys.argv[1:] == ["h100"] else (TABLE, "ahead")
    rows = []
    for n, k, gpr, layer in layers():
        for m in (4, 16):
            x, slots = make_batch(m, 1, k)
            ref = lut_linear_reference(x, layer.codes[0], layer.pools[0], slots, BITS)
            launches, errs = {}, {}
            configs = split_k_fragment_configs(table, n, k, sms, k // gpr)
            if not configs:  # 4096x11008 at gpr 4: groups of 2,752 columns, which 128-column chunks do not tile
                continue
            for j, config in enumerate(configs):
                label = f"w{config['num_warps']}-r{config['ROWS']}-wpl{config['WPL']}-s{config['SPLIT_K']}"
                for ahead in (0, 1, 2, 3) if j < 3 or table is TABLE_H100 else (0, 2, 3):
                    c = config | {"AHEAD": ahead}
                    name = f"{label}-a{ahead}"
                    if name in errs:
                        continue
                    launches[name], errs[name] = checked_launch(launch_decode_mma, layer, x, slots, ref, c)
            launches["op"] = rotating(ours_fns(layer, x, slots))
            launches["cublas"] = rotating(cublas_fns(layer, x))
            us = turns_us(launches, rounds=5)
            rows.append({"N": n, "K": k, "gpr": gpr, "M": m, "us": us, "err": errs})
            cub = us["cublas"]
            best0 = min((t, name) for name, t in us.items() if name.endswith("-a0"))
            best = min((t, name) for name, t in us.items() if name in errs)
            by_cfg = " | ".join(f"{name} {t:.2f}" for name, t in us.items() if name in errs)
            op = us["op"]
            print(f"{m} tokens {n}x{k} gpr {gpr}: cuBLAS {cub:.2f} us | op {op:.2f} ({cub / op:.2f}x) "
                  f"| best a0 {best0[1]} {best0[0]:.2f} ({cub / best0[0]:.2f}x) | best {best[1]} {best[0]:.2f} "
                  f"({cub / best[0]:.2f}x) | max err {max(errs.values()):.1e}\n    {by_cfg}",
                  flush=True)  # fmt: skip
    out = Path(os.environ.get("OUT", "."))
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{label_out}.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
