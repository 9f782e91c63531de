"""Sixty-second session, prepared for the next: EARLY (the fragment kernel's first group's code words and tables
asked for before the PDL wait) where a decode step runs the op, after the fused RMSNorm under PDL (kernels.timing
graph_time_ms's preceded_by, the norm's own time not counted; as benchmarks/linear_as_served.py), and alone. Per
shape and gpr at 4 tokens of one task: the H100's shipped choice (AHEAD 2 or 3) with EARLY 0 and 1, in turns over 5
rounds, checked against the reference, with cuBLAS after the norm. Prints a line per case; writes $OUT/early.json.
"""

import json
import os
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from kernels.packing import pack_codes  # noqa: E402
from kernels.reference import lut_linear_reference  # noqa: E402
from kernels.timing import graph_time_ms  # noqa: E402
from kernels.triton_common import pdl_scope  # noqa: E402
from kernels.triton_decode import launch_decode  # noqa: E402
from server.triton_fused import rms_norm  # noqa: E402


def time_case(n: int, k: int, gpr: int, m: int, choice: dict) -> dict:
    codes = pack_codes(torch.randint(0, 16, (n, k), device="cuda"), 4)
    pool = (torch.randn(2, n, gpr, 16, device="cuda") * 0.02).half()
    slots = torch.zeros(m, dtype=torch.int32, device="cuda")
    h = torch.randn(m, k, device="cuda").half()
    norm_w = torch.ones(k, dtype=torch.float16, device="cuda")
    x = rms_norm(h, norm_w, 1e-5)
    weight = (torch.randn(n, k, device="cuda") * 0.02).half()
    ref = lut_linear_reference(x, codes, pool, slots, 4)
    y = torch.empty(m, n, dtype=torch.float16, device="cuda")

    def norm() -> None:
        rms_norm(h, norm_w, 1e-5)

    def cublas() -> None:
        x @ weight.T

    fns, errs = {}, {}
    for early in (0, 1):
        cfg = choice | {"EARLY": early}
        y.fill_(float("nan"))
        launch_decode(x, codes, pool, slots, 4, y, cfg)
        errs[early] = (y.float() - ref.float()).abs().max().item()
        fns[f"early{early}"] = lambda c=cfg: launch_decode(x, codes, pool, slots, 4, y, c)
    times: dict = {}
    for _ in range(5):
        with pdl_scope():
            for label, fn in fns.items():
                times.setdefault(f"{label}_alone", []).append(graph_time_ms(fn) * 1e3)
                times.setdefault(f"{label}_after_norm", []).append(graph_time_ms(fn, preceded_by=norm) * 1e3)
        times.setdefault("cublas_after_norm", []).append(graph_time_ms(cublas, preceded_by=norm) * 1e3)
    us = {label: statistics.median(v) for label, v in times.items()}
    return {"N": n, "K": k, "gpr": gpr, "M": m, "config": choice, "us": us, "err": errs}


def main() -> None:
    shipped = json.loads(Path("kernels/tuned/NVIDIA_H100_80GB_HBM3.v8.json").read_text())
    rows = []
    m = 4
    for n, k in [(4096, 4096), (11008, 4096), (4096, 11008)]:
        for gpr in (1, 4):
            choice = shipped.get(f"decode|{m},{n},{k},4,{gpr},torch.float16,torch.float16")
            if not choice or choice.get("AHEAD", 0) < 2:
                continue
            row = time_case(n, k, gpr, m, choice)
            rows.append(row)
            print(f"{m} tokens {n}x{k} gpr {gpr}: " + " | ".join(f"{label} {t:.2f}" for label, t in row["us"].items())
                  + f" | max err {max(row['err'].values()):.1e} | {choice}", flush=True)  # fmt: skip
            torch.cuda.empty_cache()
    (Path(os.environ.get("OUT", ".")) / "early.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
