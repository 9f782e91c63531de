"""The int8 bucket kernel (kernels/triton_bucket_int8.py: the one-hot in int8, x as two int8 digits a token) against
the op's choice at 16 tokens over 16 tasks.

    python3 benchmarks/bucket_int8.py --out OUT_DIR [--gpr 1] [--shapes 5] [--base-corr]
    ncu -k regex:'_bucket_wgmma_kernel|_bucket_int8_kernel' python3 benchmarks/bucket_int8.py --profile

Per shape (the kernel table's three and the fused serving shapes): the op's choice for the key (the shipped WIDE
one), and every int8 config of CONFIGS. Each int8 config is checked first against the reference op on x as its
digits give it (a wrong one is reported and not timed), and its error against the reference on x itself is
reported too (the digits' rounding). Then all are timed in turns (CUDA-graph replays, L2 flushed): the int8 kernel
with its digits computed in the same call (int8_digits, one small launch) and, as "kernel alone", on digits made
ahead. Writes OUT_DIR/bucket_int8_gpr{G}.json. Configs ending in _m are the MERGED form (one accumulator), in _1d
ONE_DIGIT (x as one int8 digit: half the IMMAs; a measurement of what the MMAs cost, not a form to ship), in _bc
BASE_CORR (one digit through the task LUTs, the remainder through the base LUT's tables, here pool slot 0's; its
error against x reported against the exact op with every token on slot 0, where the correction is exact).
--profile: one launch each of the op's choice and PROFILED (4096x4096), for Nsight Compute. Also writes
bucket_int8_gpr{G}.png: per shape, the op's time and each form's best, alone and with its digits' launch;
--plot JSON redraws it from an earlier run's JSON. --base-corr: BASE_CORR_CONFIGS only (BASE_CORR over BLOCK_K 64-256
at splits 2 and 4, the op's int8 config, int8_base_corr_config, among them and named on each line), written to
bucket_int8_bc_gpr{G}.json.
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
# (num_warps, BLOCK_K, num_stages, SPLIT_K, MERGED, ONE_DIGIT, BASE_CORR): 8 weight rows a warp
CONFIGS = [(2, 256, 2, 4, 0, 0, 0), (2, 128, 3, 4, 0, 0, 0), (2, 128, 4, 2, 0, 0, 0),
           (2, 128, 3, 4, 0, 1, 0), (2, 256, 3, 2, 0, 1, 0),
           (2, 128, 3, 4, 0, 0, 1), (2, 128, 4, 2, 0, 0, 1), (2, 256, 2, 4, 0, 0, 1), (2, 256, 3, 2, 0, 0, 1),
           (1, 256, 2, 4, 0, 0, 1), (4, 128, 3, 4, 0, 0, 1), (2, 128, 4, 4, 0, 0, 1), (2, 256, 2, 2, 0, 0, 1),
           (4, 256, 2, 2, 0, 0, 1), (1, 128, 4, 4, 0, 0, 1)]  # fmt: skip
# --base-corr: BASE_CORR alone, the op's config (int8_base_corr_config) among these, at each split BLOCK_K 64-256
BASE_CORR_CONFIGS = [(2, 256, 3, 2, 0, 0, 1), (2, 128, 3, 2, 0, 0, 1), (2, 64, 4, 2, 0, 0, 1), (2, 256, 3, 4, 0, 0, 1),
                     (2, 128, 3, 4, 0, 0, 1), (2, 128, 2, 4, 0, 0, 1), (2, 64, 4, 4, 0, 0, 1), (2, 64, 3, 4, 0, 0, 1),
                     (4, 64, 4, 4, 0, 0, 1), (2, 64, 6, 4, 0, 0, 1)]  # fmt: skip
PROFILED = [(2, 128, 4, 2, 0, 0, 0), (2, 128, 4, 2, 0, 0, 1), (2, 128, 4, 2, 0, 1, 0)]
FORMS = ("", "_m", "_1d", "_bc")


def config_of(warps: int, bk: int, stages: int, split: int, merged: int, one_digit: int = 0,
              base_corr: int = 0) -> dict:  # fmt: skip
    return {"num_warps": warps, "BLOCK_K": bk, "num_stages": stages, "SPLIT_K": split, "MERGED": merged,
            "ONE_DIGIT": one_digit, "BASE_CORR": base_corr}  # fmt: skip


def form_of(config: dict) -> str:
    return "_bc" if config["BASE_CORR"] else "_1d" if config["ONE_DIGIT"] else "_m" if config["MERGED"] else ""


def label_form(label: str) -> str:
    return next((form for form in FORMS[1:] if label.endswith(form)), "")


def label_of(config: dict) -> str:
    return "int8_w{num_warps}_bk{BLOCK_K}_s{num_stages}_k{SPLIT_K}".format(**config) + form_of(config)


def case(layer: Layer, m: int, tasks: int, configs: list[tuple] = CONFIGS) -> dict:
    from kernels.triton_bucket_int8 import (
        MERGED_SCALE,
        TWO_DIGIT_BASE,
        base_corrected_reference,
        base_tables,
        int8_digits,
        int8_digits_value,
        launch_bucket_int8,
    )

    x, slots = make_batch(m, tasks, layer.k)
    codes, pool = layer.codes[0], layer.pools[0]
    key, choice = bucket_choice(layer, x, slots)
    ref = lut_linear_reference(x, codes, pool, slots, BITS)
    digits, ref_of = {}, {}
    for base in (TWO_DIGIT_BASE, MERGED_SCALE):
        digits[base] = int8_digits(x, base)
        xq = int8_digits_value(*digits[base], base).half()  # x as its digits give it (within fp16)
        ref_of[base] = lut_linear_reference(xq, codes, pool, slots, BITS)
    hi, _, step = digits[TWO_DIGIT_BASE]
    ref_of["one"] = lut_linear_reference((step[:, None] * hi.float()).half(), codes, pool, slots, BITS)
    tables = base_tables(pool[0])  # the base LUT: slot 0's here (made once at load in a server)
    digits["bc"] = int8_digits(x, TWO_DIGIT_BASE, sums=True)
    ref_of["bc"] = base_corrected_reference(x, codes, pool, slots, tables)
    slot0 = torch.zeros_like(slots)
    ref_slot0 = lut_linear_reference(x, codes, pool, slot0, BITS)
    y = torch.empty(m, layer.n, dtype=torch.float16, device="cuda")
    launches = {"op_choice": lambda: launch_bucket(x, codes, pool, slots, BITS, y, choice)}
    errors = {}
    for row in configs:
        config = config_of(*row)
        base = MERGED_SCALE if config["MERGED"] else TWO_DIGIT_BASE
        form = "one" if config["ONE_DIGIT"] else "bc" if config["BASE_CORR"] else base
        ref_q, made = ref_of[form], digits["bc" if config["BASE_CORR"] else base]
        y.fill_(float("nan"))
        try:
            launch_bucket_int8(x, codes, pool, slots, y, config, base=tables)
        except ValueError as e:  # the config does not fit this shape
            print(f"  skipped {label_of(config)}: {e}", flush=True)
            continue
        err_q, err = rel_to(y, ref_q), rel_to(y, ref)
        if not err_q < 3e-3:  # NaN included
            print(f"  WRONG {label_of(config)}: rel_err {err_q:.3g} against the digits' x", flush=True)
            errors[label_of(config)] = {"wrong": err_q}
            continue
        errors[label_of(config)] = {"digits_x": err_q, "x": err}
        if config["BASE_CORR"]:  # every token on the base's slot: exact but for the tables' levels
            launch_bucket_int8(x, codes, pool, slot0, y, config, base=tables)
            errors[label_of(config)]["x_on_base"] = rel_to(y, ref_slot0)
        launches[label_of(config)] = lambda c=config: launch_bucket_int8(x, codes, pool, slots, y, c, base=tables)
        launches[label_of(config) + "_alone"] = lambda c=config, d=made: launch_bucket_int8(
            x, codes, pool, slots, y, c, d, base=tables)  # fmt: skip
    times = turns_us(launches)
    line = f"{layer.n}x{layer.k} gpr {layer.gpr} M={m} x {tasks} tasks: op {times['op_choice']:.1f} us"
    for form in FORMS:
        best = min((label for label in times if label.startswith("int8") and not label.endswith("_alone")
                    and label_form(label) == form), key=times.get, default=None)  # fmt: skip
        if not best:
            continue
        alone = times[best + "_alone"]
        line += (f"; best {best} {times[best]:.1f} us ({times['op_choice'] / times[best]:.2f}x), alone "
                 f"{alone:.1f} us ({times['op_choice'] / alone:.2f}x), rel err vs x {errors[best]['x']:.2e}")
        if "x_on_base" in errors[best]:
            line += f" (on the base's slot {errors[best]['x_on_base']:.2e})"
    from kernels.triton_bucket_int8 import int8_base_corr_config

    op_int8 = int8_base_corr_config(layer.n, layer.k, layer.gpr)
    if op_int8:
        line += f"; the op's int8 config {label_of({'MERGED': 0, 'ONE_DIGIT': 0, **op_int8})}"
    print(line, flush=True)
    return {"shape": [layer.n, layer.k], "gpr": layer.gpr, "tokens": m, "tasks": tasks, "key": key,
            "op_choice": choice, "op_int8": op_int8, "us": times, "errors": errors}  # fmt: skip


def profile() -> None:
    """One launch each of the op's choice and the PROFILED int8 configs (digits made ahead) at 4096x4096, 16 tokens
    over 16 tasks, gpr 1: for ncu."""
    from kernels.triton_bucket_int8 import MERGED_SCALE, TWO_DIGIT_BASE, base_tables, int8_digits, launch_bucket_int8

    layer = Layer(4096, 4096, 1)
    x, slots = make_batch(16, 16, layer.k)
    codes, pool = layer.codes[0], layer.pools[0]
    _, choice = bucket_choice(layer, x, slots)
    y = torch.empty(16, layer.n, dtype=torch.float16, device="cuda")
    for row in PROFILED:
        config = config_of(*row)
        digits = int8_digits(x, MERGED_SCALE if config["MERGED"] else TWO_DIGIT_BASE, sums=bool(config["BASE_CORR"]))
        launch_bucket_int8(x, codes, pool, slots, y, config, digits, base=base_tables(pool[0]))
        print(label_of(config), flush=True)
    launch_bucket(x, codes, pool, slots, BITS, y, choice)
    print("op_choice", choice, flush=True)
    torch.cuda.synchronize()


FORM_NAMES = {"": "two digits", "_m": "two digits, one accumulator", "_1d": "one digit (inexact)",
              "_bc": "BASE_CORR (the int8 activation mode)"}  # fmt: skip


def plot(result: dict, path: Path) -> None:
    """Bars per shape: the op's time, and each int8 form's best config alone (digits made ahead) and with its
    digits' launch, as speed-ups over the op (a bar above 1 is faster)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    forms = [f for f in FORMS if any(label_form(k) == f for r in rows for k in r["us"] if k.startswith("int8"))]
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / (2 * len(forms))
    top = 1.0
    for i, form in enumerate(forms):
        for j, alone in enumerate((True, False)):
            values = []
            for r in rows:
                labels = [k for k in r["us"] if k.startswith("int8") and k.endswith("_alone") == alone
                          and label_form(k.removesuffix("_alone")) == form]  # fmt: skip
                values.append(r["us"]["op_choice"] / min(r["us"][k] for k in labels) if labels else 0)
            xs = [c + (2 * i + j) * width - 0.4 + width / 2 for c in range(len(rows))]
            top = max(top, *values)
            ax.bar(xs, values, width, label=f"{FORM_NAMES[form]}, {'digits made ahead' if alone else 'with digits'}",
                   alpha=1.0 if alone else 0.55, color=f"C{i}")  # fmt: skip
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_ylim(0, top * 1.35)  # room for the legend
    ticks = [f"{r['shape'][0]}x{r['shape'][1]}\nop {r['us']['op_choice']:.1f} us" for r in rows]
    ax.set_xticks(range(len(rows)), ticks)
    ax.set_ylabel("speed-up over the op's choice")
    ax.set_title(f"int8 bucket kernel forms, 16 tokens over 16 tasks, gpr {rows[0]['gpr']} ({result['gpu']})")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out")
    parser.add_argument("--plot", type=Path, help="redraw the PNG of this run's JSON (next to it), nothing else")
    parser.add_argument("--profile", action="store_true", help="single launches for ncu, nothing else")
    parser.add_argument("--gpr", type=int, default=1)
    parser.add_argument("--base-corr", action="store_true", help="time BASE_CORR_CONFIGS only")
    parser.add_argument("--shapes", type=int, default=len(SHAPES), help="the first this many of SHAPES")
    args = parser.parse_args(argv)
    if args.profile:
        return profile()
    if args.plot:
        return plot(json.loads(args.plot.read_text()), args.plot.with_suffix(".png"))
    if not args.out:
        parser.error("--out is required unless --profile")
    rows = []
    for n, k in SHAPES[: args.shapes]:
        rows.append(case(Layer(n, k, args.gpr), 16, 16, BASE_CORR_CONFIGS if args.base_corr else CONFIGS))
        torch.cuda.empty_cache()
    out = Path(args.out) / f"bucket_int8{'_bc' if args.base_corr else ''}_gpr{args.gpr}.json"
    result = {"gpu": torch.cuda.get_device_name(), "rows": rows}
    out.write_text(json.dumps(result, indent=1))
    plot(result, out.with_suffix(".png"))


if __name__ == "__main__":
    main()
