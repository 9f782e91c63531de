"""How much of the WIDE bucket kernel's time its one-hot instructions cost, in its own structure.

    python3 benchmarks/bucket_probe.py --out OUT_DIR [--gpr 1] [--tokens 16]

At 16 tokens over 16 tasks the WIDE form of kernels/triton_bucket_wgmma.py interleaves its set.eq one-hots with its
mma.sync HMMAs, and Nsight showed the HMMAs waiting on a tensor pipe that is only half busy (benchmarks/NOTES.md,
thirty-third session). Per shape, this times the shipped choice as it is and at each PROBE level (1: every one-hot
element 1.0, none built, the same loads, barriers, MMAs and fold; 2: no split-K epilogue either; 3: no LUT loads in
the fold either; wrong results, so never a candidate), in turns (CUDA-graph replays, L2 flushed), with cuBLAS and
the bandwidth floor; mma.sync's own rate puts the 4096x4096 call's HMMAs at 13.3 us (mma_rate.py). The fused
serving shapes (12288x4096, 22016x4096: several waves) too. Writes OUT_DIR/bucket_probe_gpr{G}.json.

--fixed-cost: where a call's fixed time goes. The 16-token choices fit ~6.8 us a call + 19.4 a wave of programs
(NOTES.md, thirty-ninth session). This times the 4096x4096 key's choice, unchanged, on N = 4096 / 8192 / 16384 (K
4096: 0.97 / 1.94 / 3.9 waves) and on K = 1024 / 2048 / 4096 / 8192 (N 4096: 1 / 2 / 4 / 8 K blocks a program), at
each PROBE level, in turns, and fits a line to each series: the intercepts are the call's fixed time with and
without the split-K epilogue and the fold's LUT loads. Writes OUT_DIR/bucket_fixed_cost_gpr{G}.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_kernels import BITS, Layer, graph_us, make_batch, turns_us  # noqa: E402

from kernels import autotune  # noqa: E402
from kernels.triton_bucket_wgmma import launch_bucket_wgmma  # noqa: E402
from kernels.triton_ops import lut_linear_forward  # noqa: E402

SHAPES = [(4096, 4096), (11008, 4096), (4096, 11008), (12288, 4096), (22016, 4096)]
BANDWIDTH = 4.22e12  # bytes/s, the H200's measured copy bandwidth (bench_kernels' floor)


def bucket_choice(layer: Layer, x: torch.Tensor, slots: torch.Tensor) -> tuple[str, dict]:
    """The op's bucket key and its shipped (cached, or tuned now) choice for layer at x's token count."""
    lut_linear_forward(x, layer.codes[0], layer.pools[0], slots, BITS, decode_kernel="bucket")
    key = next(e for e in autotune._MEMORY
               if e.startswith(f"bucket|{x.shape[0]},{layer.n},{layer.k},{BITS},{layer.gpr},"))  # fmt: skip
    return key, autotune._MEMORY[key]


def wide_choice(layer: Layer, x: torch.Tensor, slots: torch.Tensor) -> dict:
    """bucket_choice's config, which must be the WIDE form (PROBE exists only there)."""
    key, choice = bucket_choice(layer, x, slots)
    if not choice.get("WIDE"):
        raise SystemExit(f"{key}: the choice {choice} is not the WIDE form")
    return choice


LEVELS = ("shipped", "probe1", "probe2", "probe3")  # PROBE 0 (the choice as it is) to 3


def levels_us(layer: Layer, config: dict, x: torch.Tensor, slots: torch.Tensor) -> dict:
    """config as it is and at PROBE levels 1-3 on layer and x, in turns (us, by LEVELS' labels)."""
    y = torch.empty(x.shape[0], layer.n, dtype=torch.float16, device="cuda")
    codes, pool = layer.codes[0], layer.pools[0]
    runs = {"shipped": config, **{f"probe{level}": {**config, "PROBE": level} for level in (1, 2, 3)}}
    return turns_us({label: (lambda c=c: launch_bucket_wgmma(x, codes, pool, slots, BITS, y, c))
                     for label, c in runs.items()})  # fmt: skip


def probe_case(layer: Layer, m: int, tasks: int) -> dict:
    n, k = layer.n, layer.k
    x, slots = make_batch(m, tasks, k)
    choice = wide_choice(layer, x, slots)
    t = levels_us(layer, choice, x, slots)
    cublas = graph_us(lambda: x @ layer.weights[0].T)
    floor = layer.floor_bytes(m, tasks) / BANDWIDTH * 1e6
    print(f"{n}x{k} gpr {layer.gpr} M={m} x {tasks} tasks: shipped {t['shipped']:.1f} us; without one-hots "
          f"{t['probe1']:.1f} ({t['probe1'] / t['shipped']:.0%}), and no split-K epilogue {t['probe2']:.1f}, and no "
          f"LUT loads {t['probe3']:.1f}; cuBLAS {cublas:.1f}, floor {floor:.1f}; {choice}", flush=True)  # fmt: skip
    return {"N": n, "K": k, "M": m, "tasks": tasks, "gpr": layer.gpr, "config": choice, "shipped_us": t["shipped"],
            **{f"probe{level}_us": t[f"probe{level}"] for level in (1, 2, 3)},
            "cublas_us": cublas, "floor_us": floor}  # fmt: skip


def fit_line(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least squares (intercept, slope) of ys against xs."""
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    return my - slope * mx, slope


def fixed_cost(gpr: int, tokens: int) -> dict:
    """The 4096x4096 key's WIDE choice on wider N (more waves) and longer K (more blocks a program), each PROBE level
    in turns; a line fitted per level and series."""
    choice = wide_choice(Layer(4096, 4096, gpr), *make_batch(tokens, tokens, 4096))
    series = {"waves": [(n, 4096) for n in (4096, 8192, 16384)],
              "blocks": [(4096, k) for k in (1024, 2048, 4096, 8192)]}  # fmt: skip
    out: dict = {"config": choice, "tokens": tokens, "gpr": gpr, "series": {}}
    split = choice.get("SPLIT_K", 1)
    for name, shapes in series.items():
        points = []
        for n, k in shapes:
            t = levels_us(Layer(n, k, gpr), choice, *make_batch(tokens, tokens, k))
            torch.cuda.empty_cache()
            programs = n // choice["ROWS"] * split
            blocks = k // choice["BLOCK_K"] // split
            points.append({"N": n, "K": k, "programs": programs, "blocks_a_program": blocks, **t})
            print(f"{name}: {n}x{k} ({programs} programs, {blocks} K blocks each): "
                  + ", ".join(f"{label} {us:.1f} us" for label, us in t.items()), flush=True)  # fmt: skip
        xs = [p["N"] / 4096 if name == "waves" else p["blocks_a_program"] for p in points]
        fits = {label: fit_line(xs, [p[label] for p in points]) for label in LEVELS}
        for label, (icpt, slope) in fits.items():
            unit = "4096 rows (0.97 waves)" if name == "waves" else "K block a program"
            print(f"{name}, {label}: {icpt:.1f} us fixed + {slope:.1f} us a {unit}", flush=True)
        out["series"][name] = {"points": points, "fits": fits}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--gpr", type=int, default=1)
    parser.add_argument("--tokens", type=int, default=16, help="tokens = distinct tasks (8 or 16: the WIDE form)")
    parser.add_argument("--fixed-cost", action="store_true", help="fit a call's fixed time (see the docstring)")
    args = parser.parse_args()
    if args.fixed_cost:
        result = {"gpu": torch.cuda.get_device_name(), **fixed_cost(args.gpr, args.tokens)}
        (Path(args.out) / f"bucket_fixed_cost_gpr{args.gpr}.json").write_text(json.dumps(result, indent=1))
        return
    rows = []
    for n, k in SHAPES:
        rows.append(probe_case(Layer(n, k, args.gpr), args.tokens, args.tokens))
        torch.cuda.empty_cache()
    out = Path(args.out) / f"bucket_probe_gpr{args.gpr}.json"
    out.write_text(json.dumps({"gpu": torch.cuda.get_device_name(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
