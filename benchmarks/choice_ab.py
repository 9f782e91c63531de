"""The op's shipped decode choices with and without one config flag, in turns on one machine.

    python3 benchmarks/choice_ab.py --out OUT_DIR [--flag X_VEC] [--values 0,1] [--m 1] [--rounds 3]
                                   [--kernel decode|bucket] [--tasks 1] [--b-extra '{"maxnreg": 128}']

Per Llama-2-7B projection shape (the kernel table's three and the server's fused q/k/v and gate/up) and gpr (1, 4):
the op's shipped choice (kernels/tuned/, autotune's file name) of --kernel (decode: the one-task class's; bucket:
the bucket kernel's) for --m tokens over --tasks distinct tasks, timed with the flag at each of --values (off and
on by default), alternating for --rounds rounds (single timings varied up to 2x on the H200), each checked against
the torch reference (bench_kernels.checked_time), and cuBLAS fp16 in the same process. Writes
OUT_DIR/choice_ab_<kernel>_m<M>_t<T>_<flag>.json and prints the median of each side per case. A flag the chosen
kernel does not know changes nothing (its side reads ~1.0x). (Twenty-first session, as prmt_ab.py: X_PREFETCH,
x's pairs loaded a block ahead with the codes in the one-token kernel, 0.94-1.02x,
results/prmt_ab_x_prefetch_h200.log; the flag was removed, its code is in commit 1640ed8.)
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_kernels import BITS, Layer, bench_graph, checked_time, cublas_fns, grid_cli, make_batch  # noqa: E402

from kernels.autotune import cache_path  # noqa: E402
from kernels.reference import lut_linear_reference  # noqa: E402
from kernels.triton_bucket import launch_bucket  # noqa: E402
from kernels.triton_decode import launch_decode  # noqa: E402

SHAPES = [(4096, 4096), (11008, 4096), (4096, 11008), (12288, 4096), (22016, 4096)]


def shipped_choice(kernel: str, n: int, k: int, gpr: int, m: int) -> dict | None:
    """The shipped choice of kernel ("decode" or "bucket") for this shape and token bucket (a power of two) on this
    GPU, or None."""
    path = Path(__file__).resolve().parents[1] / "kernels" / "tuned" / cache_path().name
    if not path.exists():
        return None
    return json.loads(path.read_text()).get(f"{kernel}|{m},{n},{k},4,{gpr},torch.float16,torch.float16")


def main() -> None:
    args = grid_cli(__doc__, budget_s=0.0, extra=[("--flag", "X_VEC", "the config flag turned on"),
                                                  ("--values", "0,1", "the flag's two values, A then B"),
                                                  ("--m", 1, "tokens (a power of two: the key)"),
                                                  ("--tasks", 1, "distinct tasks among the tokens"),
                                                  ("--kernel", "decode", "decode or bucket"),
                                                  ("--rounds", 3, "alternating timings per side"),
                                                  ("--b-extra", "{}", "JSON config items added on B's side only "
                                                   "(e.g. a register cap the variant needs)")])  # fmt: skip
    rows = []
    b_extra = json.loads(args.b_extra)
    for gpr in (1, 4):
        for n, k in SHAPES:
            base = shipped_choice(args.kernel, n, k, gpr, args.m)
            if base is None:
                print(f"{n}x{k} gpr {gpr}: no shipped choice", flush=True)
                continue
            layer = Layer(n, k, gpr)
            x, slots = make_batch(args.m, args.tasks, k)
            launch = launch_bucket if args.kernel == "bucket" else launch_decode
            ref = lut_linear_reference(x, layer.codes[0], layer.pools[0], slots, BITS)
            values = [int(v) for v in args.values.split(",")]
            times: dict[int, list[float]] = {v: [] for v in values}
            for _ in range(args.rounds):
                for value in values:
                    config = base | {args.flag: value} | (b_extra if value == values[1] else {})
                    us, err = checked_time(launch, layer, x, slots, ref, config)
                    if us:
                        times[value].append(us)
            cublas_us = bench_graph(cublas_fns(layer, x))
            off, on = (statistics.median(times[v]) if times[v] else float("nan") for v in values)
            rows.append({"N": n, "K": k, "M": args.m, "tasks": args.tasks, "gpr": gpr, "config": base, "values": values,
                         "a_us": times[values[0]], "b_us": times[values[1]], "cublas_us": cublas_us})  # fmt: skip
            print(f"{n}x{k} gpr {gpr}: {args.flag}={values[0]} {off:.2f} us, ={values[1]} {on:.2f} us "
                  f"({off / on:.3f}x); cuBLAS {cublas_us:.1f} (x{cublas_us / on:.2f} with ={values[1]})", flush=True)
            del layer
            torch.cuda.empty_cache()
    out = {"gpu": torch.cuda.get_device_name(), "kernel": args.kernel, "flag": args.flag, "m": args.m,
           "tasks": args.tasks, "b_extra": b_extra, "rows": rows}  # fmt: skip
    values = "" if args.values == "0,1" else "_" + args.values.replace(",", "-")
    cap = f"_cap{b_extra['maxnreg']}" if "maxnreg" in b_extra else ""
    name = f"choice_ab_{args.kernel}_m{args.m}_t{args.tasks}_{args.flag}{values}{cap}.json"
    (args.out / name).write_text(json.dumps(out, indent=0))


if __name__ == "__main__":
    main()
