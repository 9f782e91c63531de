"""The LEVEL_SPLIT form of the WIDE bucket kernel against the op's choice at 32 and 64 tokens over 16 tasks.

    python3 benchmarks/bucket_level_split.py --out OUT_DIR [--gpr 1] [--tokens 32,64]

At 32 tokens and more the op runs the WIDE form in 16-token tiles (or the wgmma form), and each tile builds its own
one-hot of the same codes: two set.eq per HMMA. LEVEL_SPLIT = P (kernels/triton_bucket_wgmma.py, fortieth session)
holds 8 / P weight rows a warp and gives each of P lanes 16 / P of a row's code values, so that a tile of 16 P tokens
feeds each A fragment to 2 P MMAs: 2 / P set.eq per HMMA (sm_90 SASS of the K loop, BK 256, 256 HMMAs: 684
instructions at P = 2, 593 at P = 4, against 972 in the 16-token WIDE form). Per shape (the kernel table's three
and the fused serving shapes), the op's choice for the key (the shipped or tuned one) and every LEVEL_SPLIT
candidate: first each candidate's result against the reference (a wrong one is reported and not timed), then all
timed in turns (CUDA-graph replays, L2 flushed). Writes OUT_DIR/bucket_level_split_gpr{G}.json and a plot of it
(.png: per case the best P = 2 and P = 4 candidate's speed-up over the op's choice);
`--plot RESULT.json [...]` draws saved results again, with no GPU.
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
from kernels.triton_bucket_wgmma import bucket_level_split_candidates  # noqa: E402

SHAPES = [(4096, 4096), (11008, 4096), (4096, 11008), (12288, 4096), (22016, 4096)]


def label_of(config: dict) -> str:
    return "split{LEVEL_SPLIT}_{ROWS}x{BLOCK_K}_w{num_warps}_s{num_stages}_k{SPLIT_K}".format(**config)


def case(layer: Layer, m: int, tasks: int) -> dict:
    x, slots = make_batch(m, tasks, layer.k)
    codes, pool = layer.codes[0], layer.pools[0]
    key, choice = bucket_choice(layer, x, slots)
    ref = lut_linear_reference(x, codes, pool, slots, BITS)
    y = torch.empty(m, layer.n, dtype=torch.float16, device="cuda")
    runs, wrong = {"op_choice": choice}, []
    for config in bucket_level_split_candidates(m, layer.k // layer.gpr):
        y.fill_(float("nan"))
        launch_bucket(x, codes, pool, slots, BITS, y, config)
        err = rel_to(y, ref)
        if not err < 3e-3:  # NaN included
            wrong.append({"config": config, "rel_err": err})
            print(f"  WRONG {label_of(config)}: rel_err {err:.3g}", flush=True)
            continue
        runs[label_of(config)] = config
    times = turns_us({label: (lambda c=c: launch_bucket(x, codes, pool, slots, BITS, y, c))
                      for label, c in runs.items()})  # fmt: skip
    best = min((label for label in times if label != "op_choice"), key=times.get, default=None)
    line = f"{layer.n}x{layer.k} gpr {layer.gpr} M={m} x {tasks} tasks: op {times['op_choice']:.1f} us"
    if best:
        line += f"; LEVEL_SPLIT best {best} {times[best]:.1f} us ({times['op_choice'] / times[best]:.2f}x)"
    print(line + f"; op's choice {choice}", flush=True)
    for label, us in sorted(times.items(), key=lambda kv: kv[1]):
        print(f"    {label}: {us:.1f} us", flush=True)
    return {"key": key, "N": layer.n, "K": layer.k, "M": m, "tasks": tasks, "gpr": layer.gpr, "op_choice": choice,
            "us": times, "configs": runs, "wrong": wrong, "best": best}  # fmt: skip


def best_speedup(row: dict, p: int) -> float | None:
    """The op's choice's time over the fastest LEVEL_SPLIT = p candidate's in one case (None: none timed)."""
    times = [us for label, us in row["us"].items() if label.startswith(f"split{p}_")]
    return row["us"]["op_choice"] / min(times) if times else None


def plot(result: dict, path: Path) -> None:
    """Per case (tokens, shape), bars of the best P = 2 and P = 4 candidate's speed-up over the op's choice; a line
    at 1 (the op's choice)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.0 * len(rows)), 4.0))
    width = 0.38
    speedups = []
    for i, p in enumerate((2, 4)):
        bars = [(j + (i - 0.5) * width, s) for j, row in enumerate(rows) if (s := best_speedup(row, p)) is not None]
        if bars:
            ax.bar(*zip(*bars, strict=True), width, label=f"best LEVEL_SPLIT P = {p}")
        speedups += [s for _, s in bars]
    ax.axhline(1.0, color="black", linewidth=0.8, label="the op's choice")
    ax.set_xticks(range(len(rows)), [f"{r['M']} tok\n{r['N']}x{r['K']}" for r in rows], fontsize=7)
    ax.set_ylim(min([0.8, *speedups]) - 0.02, max([1.15, *speedups]) + 0.02)
    ax.set_ylabel("speed-up over the op's choice")
    gpr = rows[0]["gpr"] if rows else "?"
    ax.set_title(f"LEVEL_SPLIT against the op's choice, 16 tasks, gpr {gpr} ({result.get('gpu', '')})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="the results' folder (required unless --plot)")
    parser.add_argument("--plot", nargs="+", metavar="RESULT_JSON", help="only draw these saved results (no GPU)")
    parser.add_argument("--gpr", type=int, default=1)
    parser.add_argument("--tokens", default="32,64", help="token counts (= distinct tasks, at most 16)")
    parser.add_argument("--shapes", type=int, default=len(SHAPES), help="the first this many of SHAPES")
    args = parser.parse_args(argv)
    if args.plot:
        for name in args.plot:
            plot(json.loads(Path(name).read_text()), Path(name).with_suffix(".png"))
        return
    if not args.out:
        parser.error("--out is required")
    rows = []
    for m in (int(t) for t in args.tokens.split(",")):
        for n, k in SHAPES[: args.shapes]:
            rows.append(case(Layer(n, k, args.gpr), m, min(m, 16)))
            torch.cuda.empty_cache()
    out = Path(args.out) / f"bucket_level_split_gpr{args.gpr}.json"
    result = {"gpu": torch.cuda.get_device_name(), "rows": rows}
    out.write_text(json.dumps(result, indent=1))
    plot(result, out.with_suffix(".png"))


if __name__ == "__main__":
    main()
