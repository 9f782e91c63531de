"""Prefill steps over several tasks, as an eager engine step gives them to the op, against one task.

    python3 benchmarks/prefill_tasks.py --out OUT_DIR [--gpr 1] [--dense-min 128,64,32] [--cases 'x 2048,x 256']

The staggered serving run over 4 tasks (bench_serving.py's step trace, NOTES.md nineteenth session) spent 94-223 ms
on a ~512-token prefill step where one task's took ~21 ms. Per server projection shape, the cases are:
- 512 prompt tokens of one task;
- 4 tasks x 128: at the nineteenth session's first DENSE_MIN_TOKENS (128) each run took the dense path (its slot's
  weight dequantized, then cuBLAS);
- 4 x 127 prompt tokens plus 4 decode rows, one per task: there the runs fell short of it, so the prefill kernel
  took them in their order;
- 8 x 64;
- 1 and 4 tasks x 32, 64, 96 and 127: where the dense path starts to pay;
- 1 task x 2048, 4 x 512, 8 x 256: the kernel table's prefill cases (a --dense-min above their runs gives the fused
  prefill kernel, whose token tiles then hold one task each);
- 1, 2 and 4 tasks x 256, 2 x 512, 1 and 2 x 1024: where the dense path's rule against the fused kernel is drawn.
Each case runs once per --dense-min value (the op's DENSE_MIN_TOKENS for the run; default: the shipped one). Each
is timed eagerly (triton's do_bench, what an eager step pays, host included) and in a CUDA graph (the kernels
alone), checked against the torch reference. Writes OUT_DIR/prefill_tasks_gpr{G}.json and prints each case's two times.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_kernels import BITS, Layer, bench, bench_graph, check, grid_cli, ours_fns, rotating  # noqa: E402

from kernels import SlotSegments  # noqa: E402

SHAPES = [(12288, 4096), (4096, 4096), (22016, 4096), (4096, 11008)]  # fused q/k/v, o, fused gate/up, down
# (label, [(slot, tokens)] in the step's order)
CASES = [
    ("1 task x 512", [(0, 512)]),
    ("4 tasks x 128 (dense path)", [(t, 128) for t in range(4)]),
    ("4 decode rows + 4 tasks x 127", [(t, 1) for t in range(4)] + [(t, 127) for t in range(4)]),
    ("8 tasks x 64", [(t, 64) for t in range(8)]),
    *[(f"{tasks} task{'s' if tasks > 1 else ''} x {length}", [(t, length) for t in range(tasks)])
      for tasks in (1, 4) for length in (32, 64, 96, 127)],
    # the kernel table's 2,048-token prefill over 1 and 8 tasks, and 4 tasks between
    ("1 task x 2048", [(0, 2048)]),
    ("4 tasks x 512", [(t, 512) for t in range(4)]),
    ("8 tasks x 256", [(t, 256) for t in range(8)]),
    # between them, for the dense path's rule against the register-LUT fused kernel (twenty-seventh session)
    ("1 task x 256", [(0, 256)]),
    ("2 tasks x 256", [(t, 256) for t in range(2)]),
    ("4 tasks x 256", [(t, 256) for t in range(4)]),
    ("2 tasks x 512", [(t, 512) for t in range(2)]),
    ("2 tasks x 1024", [(t, 1024) for t in range(2)]),
    ("1 task x 1024", [(0, 1024)]),
]


def case_batch(runs: list[tuple[int, int]], k: int) -> tuple[torch.Tensor, SlotSegments]:
    """x [M, K] and the runs as SlotSegments (as the runner's slot_runs gives them: no two neighbours share a
    slot in CASES)."""
    slots, counts = zip(*runs, strict=True)
    per_token = torch.repeat_interleave(torch.tensor(slots, dtype=torch.int32), torch.tensor(counts)).cuda()
    x = torch.randn(per_token.shape[0], k, device="cuda").half()
    return x, SlotSegments.from_counts(list(slots), list(counts), "cuda", per_token=per_token)


def main() -> None:
    args = grid_cli(__doc__, budget_s=0.0, extra=[("--gpr", 1, "LUT groups per row"),
                                                  ("--dense-min", "", "DENSE_MIN_TOKENS values, comma-separated"),
                                                  ("--cases", "", "only the cases whose label ends with one of these, "
                                                                  "comma-separated (e.g. 'x 2048,x 256')")])
    from kernels import triton_ops

    dense_mins = [int(v) for v in args.dense_min.split(",")] if args.dense_min else [triton_ops.DENSE_MIN_TOKENS]
    wanted = [c.strip() for c in args.cases.split(",") if c.strip()]
    cases = [(label, runs) for label, runs in CASES if not wanted or label.endswith(tuple(wanted))]
    rows = []
    t_start = time.time()
    for n, k in SHAPES:
        layer = Layer(n, k, args.gpr)
        for label, runs in cases:
            x, segments = case_batch(runs, k)
            for dense_min in dense_mins:
                triton_ops.DENSE_MIN_TOKENS = dense_min
                check(layer, x, segments.per_token, segments)
                fns = ours_fns(layer, x, segments.per_token, segments)
                eager_us = bench(rotating(fns))
                graph_us = bench_graph(fns)
                rows.append({"N": n, "K": k, "gpr": args.gpr, "case": label, "M": x.shape[0], "dense_min": dense_min,
                             "eager_us": eager_us, "graph_us": graph_us})  # fmt: skip
                print(f"{n}x{k} {label} dense from {dense_min}: eager {eager_us:.1f} us, graph {graph_us:.1f} us",
                      flush=True)  # fmt: skip
        del layer
        torch.cuda.empty_cache()
    out = {"gpu": torch.cuda.get_device_name(), "bits": BITS, "rows": rows, "seconds": time.time() - t_start}
    (args.out / f"prefill_tasks_gpr{args.gpr}.json").write_text(json.dumps(out, indent=0))


if __name__ == "__main__":
    main()
