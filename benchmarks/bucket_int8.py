"""The int8 bucket kernel (kernels/triton_bucket_int8.py: the one-hot in int8, x as two int8 digits a token) against
the op's choice at 16 tokens over 16 tasks.

    python3 benchmarks/bucket_int8.py --out OUT_DIR [--gpr 1] [--shapes 5]

Per shape (the kernel table's three and the fused serving shapes): the op's choice for the key (the shipped WIDE
one), and every int8 config of CONFIGS. Each int8 config is checked first against the reference op on x as its
digits give it (a wrong one is reported and not timed), and its error against the reference on x itself is
reported too (the digits' rounding). Then all are timed in turns (CUDA-graph replays, L2 flushed): the int8 kernel
with its digits computed in the same call (int8_digits, one small launch) and, as "kernel alone", on digits made
ahead. Writes OUT_DIR/bucket_int8_gpr{G}.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_kernels import BITS, Layer, make_batch, rel_to, turns_us  # noqa: E402
from bucket_probe import bucket_choice  # noqa: E402

from kernels.reference import lut_linear_reference  # noqa: E402
from kernels.triton_bucket import launch_bucket  # noqa: E402

SHAPES = [(4096, 4096), (11008, 4096), (4096, 11008), (12288, 4096), (22016, 4096)]
# (num_warps, BLOCK_K, num_stages, SPLIT_K): 8 weight rows a warp
CONFIGS = [(2, 256, 2, 4), (2, 128, 3, 4), (2, 256, 2, 2), (2, 128, 4, 2), (1, 256, 2, 4), (2, 64, 4, 4)]


def label_of(config: dict) -> str:
    return "int8_w{num_warps}_bk{BLOCK_K}_s{num_stages}_k{SPLIT_K}".format(**config)


def case(layer: Layer, m: int, tasks: int) -> dict:
    from kernels.triton_bucket_int8 import int8_digits, int8_digits_value, launch_bucket_int8

    x, slots = make_batch(m, tasks, layer.k)
    codes, pool = layer.codes[0], layer.pools[0]
    key, choice = bucket_choice(layer, x, slots)
    hi, lo, step = int8_digits(x)
    xq = int8_digits_value(hi, lo, step).half()  # x as its digits give it (within fp16)
    ref_q = lut_linear_reference(xq, codes, pool, slots, BITS)
    ref = lut_linear_reference(x, codes, pool, slots, BITS)
    y = torch.empty(m, layer.n, dtype=torch.float16, device="cuda")
    launches = {"op_choice": lambda: launch_bucket(x, codes, pool, slots, BITS, y, choice)}
    errors = {}
    for warps, bk, stages, split in CONFIGS:
        config = {"num_warps": warps, "BLOCK_K": bk, "num_stages": stages, "SPLIT_K": split}
        y.fill_(float("nan"))
        try:
            launch_bucket_int8(x, codes, pool, slots, y, config)
        except ValueError as e:  # the config does not fit this shape
            print(f"  skipped {label_of(config)}: {e}", flush=True)
            continue
        err_q, err = rel_to(y, ref_q), rel_to(y, ref)
        if not err_q < 3e-3:  # NaN included
            print(f"  WRONG {label_of(config)}: rel_err {err_q:.3g} against the digits' x", flush=True)
            errors[label_of(config)] = {"wrong": err_q}
            continue
        errors[label_of(config)] = {"digits_x": err_q, "x": err}
        launches[label_of(config)] = lambda c=config: launch_bucket_int8(x, codes, pool, slots, y, c)
        launches[label_of(config) + "_alone"] = lambda c=config: launch_bucket_int8(x, codes, pool, slots, y, c,
                                                                                    (hi, lo, step))  # fmt: skip
    times = turns_us(launches)
    line = f"{layer.n}x{layer.k} gpr {layer.gpr} M={m} x {tasks} tasks: op {times['op_choice']:.1f} us"
    best = min((label for label in times if label.startswith("int8") and not label.endswith("_alone")),
               key=times.get, default=None)  # fmt: skip
    if best:
        alone = times[best + "_alone"]
        line += (f", best int8 {best} {times[best]:.1f} us ({times['op_choice'] / times[best]:.2f}x), alone "
                 f"{alone:.1f} us ({times['op_choice'] / alone:.2f}x); rel err vs x {errors[best]['x']:.2e}")
    print(line, flush=True)
    return {"shape": [layer.n, layer.k], "gpr": layer.gpr, "tokens": m, "tasks": tasks, "key": key,
            "op_choice": choice, "us": times, "errors": errors}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--gpr", type=int, default=1)
    parser.add_argument("--shapes", type=int, default=len(SHAPES), help="the first this many of SHAPES")
    args = parser.parse_args(argv)
    rows = []
    for n, k in SHAPES[: args.shapes]:
        rows.append(case(Layer(n, k, args.gpr), 16, 16))
        torch.cuda.empty_cache()
    out = Path(args.out) / f"bucket_int8_gpr{args.gpr}.json"
    out.write_text(json.dumps({"gpu": torch.cuda.get_device_name(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
