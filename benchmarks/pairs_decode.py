"""The pair-table decode kernel (kernels/gluon_decode_pairs.py) against the op as shipped and cuBLAS, in one run.

    python3 benchmarks/pairs_decode.py --out OUT_DIR [--gpr 1] [--budget-s 60] [--cases 1x1,16x1] [--shapes 4096x4096]
                                        [--wk 4,8,16] [--lists candidates,staged_x]

Needs Triton >= 3.9 (benchmarks/device/carry_triton39.sh carries it to the lent GPU, whose own Triton is 3.6).
Per Llama-2-7B projection shape (the kernel table's three) and token count over one task (the issue's one-task
bar: batch <= 16, 2.5x cuBLAS): the kernel's configs (kernels/gluon_decode_pairs.py PAIRS_GRID: warps along the
rows RB, row blocks a warp ROWS, warps a block WK, words a lane WPL, chunks in flight, tables, split-K waves: the
op's candidates always, then the rest of the grid while the budget lasts, compiles included), each timed in CUDA
graphs with a cold L2 and checked against the torch reference (bench_kernels.checked_time), then the op as its
autotuner chose (the shipped kernels, compiled by this Triton, without the batch's task count: the gather class),
unless SKETCHSERVE_PAIRS_DECODE=0 also the op told the batch's one task (its pair kernel or its gather class, which
of them ran faster at the shape: "op_one_task"), and cuBLAS fp16, in the same process. Writes
OUT_DIR/pairs_grid_gpr{G}.json (plot it with benchmarks/plot_grid.py) and prints the best per case with its ratio
to cuBLAS, its achieved GB/s and its ratio to the bandwidth floor (the issue's: codes, LUT, x and y bytes over the
measured copy bandwidth).

    python3 benchmarks/pairs_decode.py --out OUT_DIR --profile RUN.json

launches, for Nsight Compute, each 4096x4096 case's best config of a grid run (RUN.json) three times, eagerly.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_kernels import (  # noqa: E402
    BITS,
    Layer,
    bench_graph,
    copy_bandwidth,
    cublas_fns,
    dims,
    fastest,
    grid_cli,
    make_batch,
    ours_fns,
    time_grid,
)

from kernels import triton_ops  # noqa: E402
from kernels.gluon_decode_pairs import (  # noqa: E402
    PAIRS_CANDIDATES,
    PAIRS_GRID,
    PAIRS_RING_AHEAD,
    PAIRS_STAGED_X,
    PAIRS_STAGED_X_BEST,
    PAIRS_WIDE_BLOCKS,
    default_pairs_config,
    launch_decode_pairs,
    pairs_candidates,
    pairs_ok,
)
from kernels.reference import lut_linear_reference  # noqa: E402

SHAPES = [(4096, 4096), (11008, 4096), (4096, 11008)]
CASES = [(1, 1), (4, 1), (8, 1), (16, 1)]  # (tokens, distinct tasks)
# the launcher's config keys (pairs_config's; RING_AHEAD only in the configs that set it)
CONFIG_KEYS = (*default_pairs_config(4096, 4096, 4096, 132), "RING_AHEAD")


# --lists: the kernel module's lists of grid entries by name
ENTRY_LISTS = {"grid": PAIRS_GRID, "candidates": PAIRS_CANDIDATES, "wide": PAIRS_WIDE_BLOCKS,
               "staged_x": PAIRS_STAGED_X,
               # RING_AHEAD's entries beside the same ones without it (at their stages too), in one run
               "ring_ahead": [*PAIRS_STAGED_X_BEST, *((*e[:10], 0) for e in PAIRS_RING_AHEAD), *PAIRS_RING_AHEAD]}


def pair_configs(n: int, k: int, gs: int, sms: int, lists: str = "grid"):
    """The pair-table kernel's configs of the named entry lists (default: the whole grid, the op's candidates first;
    the budget cuts the tail), each once."""
    entries = [e for name in lists.split(",") for e in ENTRY_LISTS[name]]
    return pairs_candidates(n, k, gs, sms, list(dict.fromkeys(entries)))


def config_of(row: dict) -> dict:
    """The kernel config a grid row was timed with (its other fields: the case, us, err; keys newer than the run, such
    as XSTAGE, left out: the launcher's defaults)."""
    return {key: row[key] for key in CONFIG_KEYS if key in row}


def profile(run_path: Path) -> None:
    """Each 4096x4096 case's fastest config of a grid run, launched three times (for ncu -k _decode_pairs_kernel)."""
    run = json.loads(run_path.read_text())
    best: dict[int, dict] = {}
    for row in run["rows"]:
        if row["kind"] == "pairs" and row["us"] and (row["N"], row["K"]) == (4096, 4096):
            if row["M"] not in best or row["us"] < best[row["M"]]["us"]:
                best[row["M"]] = row
    gpr = run["rows"][0]["gpr"]
    layer = Layer(4096, 4096, gpr)
    for m, row in sorted(best.items()):
        x, slots = make_batch(m, 1, 4096)
        y = torch.empty(m, 4096, dtype=torch.float16, device="cuda")
        cfg = config_of(row)
        print(f"M={m}: {cfg} ({row['us']:.2f} us in the grid)", flush=True)
        for _ in range(3):
            launch_decode_pairs(x, layer.codes[0], layer.pools[0], slots, BITS, y, cfg)
        torch.cuda.synchronize()


def main() -> None:
    args = grid_cli(__doc__, budget_s=60.0, extra=[
        ("--gpr", 1, "LUT groups per row"),
        ("--cases", "", "tokens x tasks, e.g. 1x1,16x1"),
        ("--shapes", "", "N x K, e.g. 4096x4096 (default: all three)"),
        ("--profile", "", "a grid run's JSON: launch its best"),
        ("--wk", "", "only configs of these warps a row block (WK), e.g. 4,8,16"),
        ("--lists", "grid", f"the grid entries to time, comma-separated among {', '.join(ENTRY_LISTS)}"),
    ])
    if args.profile:
        return profile(Path(args.profile))
    cases = dims(args.cases) if args.cases else CASES
    shapes = dims(args.shapes) if args.shapes else SHAPES
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    wks = {int(w) for w in args.wk.split(",")} if args.wk else None  # --wk: only these warps a row block
    bandwidth = copy_bandwidth()  # bytes/s read + written: the floor's denominator, as the kernel table's
    rows: list[dict] = []
    t_start = time.time()
    for n, k in shapes:
        layer = Layer(n, k, args.gpr)
        gs = k // args.gpr
        for m, tasks in cases:
            x, slots = make_batch(m, tasks, k)
            ref = lut_linear_reference(x, layer.codes[0], layer.pools[0], slots, BITS)
            floor_us = layer.floor_bytes(m, tasks) / bandwidth * 1e6  # codes + LUT + x + y at the copy bandwidth
            case = {"N": n, "K": k, "M": m, "tasks": tasks, "gpr": args.gpr, "floor_us": floor_us}
            ops = pairs_candidates(n, k, gs, sms)
            taken = []
            for cfg in pair_configs(n, k, gs, sms, args.lists):
                if wks and cfg["WK"] not in wks:
                    continue
                if pairs_ok(x, layer.codes[0], layer.pools[0], BITS, args.gpr, cfg["WPL"], cfg["WK"]):
                    taken.append((cfg, {**case, "kind": "pairs"}))
                else:
                    print(f"{n}x{k} M={m}: the kernel does not take {cfg}", flush=True)
            # the op's candidates one group (timed whatever the budget), then the rest of the grid a group each (by
            # membership: with --lists the candidates need not come first)
            groups = [[launch for launch in taken if launch[0] in ops]]
            groups += [[launch] for launch in taken if launch[0] not in ops]
            time_grid(launch_decode_pairs, layer, x, slots, ref, groups, args.budget_s / len(cases), rows,
                      f"{n}x{k} M={m}")  # fmt: skip
            best = next(iter(fastest(rows, 1, kind="pairs", N=n, K=k, M=m)), None)
            try:  # the shipped kernels under this Triton (3.9 on the lent GPU, whose own is 3.6): not a reason to stop
                op_us = bench_graph(ours_fns(layer, x, slots))
            except Exception as e:  # noqa: BLE001 - record and go on
                print(f"{n}x{k} M={m}: the op failed: {e!r:.300}", flush=True)
                op_us = None
            op_one_us = None
            if triton_ops.PAIRS_DECODE:  # the op told the batch's one task: its pair kernel or gather class, the faster
                op_one_us = bench_graph(ours_fns(layer, x, slots, num_tasks=tasks))
                rows.append({**case, "kind": "op_one_task", "us": op_one_us})
            cublas_us = bench_graph(cublas_fns(layer, x))
            rows.append({**case, "kind": "op", "us": op_us})
            rows.append({**case, "kind": "cublas", "us": cublas_us})
            if best:
                shape = config_of(best)
                op = f"op {op_us:.2f} x{cublas_us / op_us:.2f}" if op_us else "op failed"
                if op_one_us:
                    op += f" | op told one task {op_one_us:.2f} x{cublas_us / op_one_us:.2f}"
                gbs = layer.floor_bytes(m, tasks) / (best["us"] * 1e-6) / 1e9
                print(f"{n}x{k} M={m} T={tasks}: pairs {best['us']:.2f} us {shape} x{cublas_us / best['us']:.2f} "
                      f"({gbs:.0f} GB/s, {best['us'] / floor_us:.2f}x the floor {floor_us:.2f} us) | {op} | "
                      f"cuBLAS {cublas_us:.2f}", flush=True)  # fmt: skip
        del layer
        torch.cuda.empty_cache()
    import triton

    out = {"gpu": torch.cuda.get_device_name(), "triton": triton.__version__, "bits": BITS, "rows": rows,
           "copy_bandwidth": bandwidth, "seconds": time.time() - t_start}  # fmt: skip
    (args.out / f"pairs_grid_gpr{args.gpr}.json").write_text(json.dumps(out, indent=0))


if __name__ == "__main__":
    main()
