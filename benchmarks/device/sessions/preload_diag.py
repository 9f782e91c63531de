"""Eighteenth session: which PRELOAD cases of the fragment kernel miss the reference on CUDA (the CPU interpreter
passes all). Prints rel err per (tokens, slots, words per lane, row blocks, K)."""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from kernels.reference import lut_linear_reference  # noqa: E402
from kernels.triton_decode import MODE_MMA, launch_decode  # noqa: E402
from tests.kernels.test_triton_forward import make_case, rel_err  # noqa: E402

for m, n, k, slots, assign, wpl, rows in [(9, 24, 128, 9, "distinct", 2, 2), (9, 24, 128, 9, "distinct", 2, 1),
                                          (9, 24, 128, 9, "distinct", 4, 2), (4, 40, 128, 1, "one", 2, 1),
                                          (4, 40, 256, 1, "one", 2, 2), (9, 24, 256, 3, "random", 2, 2),
                                          (9, 24, 256, 9, "distinct", 4, 1), (16, 64, 512, 1, "one", 2, 1)]:
    x, codes, pool, slot_of_token = make_case(m, n, k, 4, 1, slots, assign, torch.float16, seed=m + n + k)
    ref = lut_linear_reference(x, codes, pool, slot_of_token, 4)
    errs = []
    for preload in (0, 1):
        y = torch.full((m, n), float("nan"), dtype=torch.float16, device="cuda")
        launch_decode(x, codes, pool, slot_of_token, 4, y, {"MODE": MODE_MMA, "num_warps": 2, "WPL": wpl,
                                                            "ROWS": rows, "SPLIT_K": 1, "PRELOAD": preload})
        errs.append(f"{rel_err(y, ref):.1e}")
    print(f"m {m} n {n} k {k} slots {slots} wpl {wpl} rows {rows}: rel err without / with PRELOAD {errs}", flush=True)
