"""Host time per eager call of the multi-LUT op, and of its layers: where the microseconds before a launch go.

    python3 benchmarks/host_overhead.py [--out OUT_DIR] [--calls 2000]

CUDA graphs hide this time in the server's decode steps, but eager callers pay it on every call: fine-tuning
(forward and backward through the op), eager prefill steps, the public op. Per case (4096x4096, gpr 1, 4-bit):
host microseconds per call (the loop's wall time divided by the calls, the GPU left to run behind; the kernels are
short, so the host is what bounds the loop) for
  - lut_linear (the public op, no slot range check: that reads the slots back),
  - lut_linear_forward (the CUDA entry point),
  - the launcher alone with the cached config (launch_decode / launch_bucket / launch_prefill),
  - an empty Triton kernel with the same number of arguments (Triton's own launch floor),
  - fp16 cuBLAS x @ W.T (the peer);
then a cProfile of lut_linear_forward (the top functions by own time). Writes OUT_DIR/host_overhead.json.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from pathlib import Path

import torch
import triton
import triton.language as tl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kernels import autotune, lut_linear, pack_codes  # noqa: E402
from kernels.triton_bucket import launch_bucket  # noqa: E402
from kernels.triton_decode import launch_decode  # noqa: E402
from kernels.triton_ops import _m_bucket, _shape_key, lut_linear_forward  # noqa: E402

BITS, N, K = 4, 4096, 4096
CASES = [(1, 1), (16, 1), (16, 16), (512, 1)]  # (tokens, tasks)


@triton.jit
def _empty_kernel(a0, a1, a2, a3, a4, a5, a6, i0, i1, i2, i3, i4, i5, i6, i7, i8, i9, i10, i11, i12,
                  C0: tl.constexpr, C1: tl.constexpr, C2: tl.constexpr, C3: tl.constexpr,
                  C4: tl.constexpr):  # fmt: skip
    pass


def per_call_us(fn, calls: int) -> float:
    for _ in range(20):
        fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    t1 = time.perf_counter()
    torch.cuda.synchronize()
    return (t1 - t0) / calls * 1e6


def profile_top(fn, calls: int, top: int = 25) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        fn()
    profiler.disable()
    torch.cuda.synchronize()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    return text.getvalue()


def time_case(m: int, tasks: int, codes, pool, w, calls: int) -> dict:
    """One case's host microseconds per call (the module docstring's list) and the forward's profile."""
    x = torch.randn(m, K, device="cuda").half()
    slots = (torch.arange(m, device="cuda") % tasks).to(torch.int32)
    y = torch.empty(m, N, dtype=x.dtype, device="cuda")
    num_tasks = tasks if tasks > 1 else None

    def op():
        return lut_linear(x, codes, pool, slots, BITS, 1, False, num_tasks=num_tasks)

    def forward():
        return lut_linear_forward(x, codes, pool, slots, BITS, num_tasks=num_tasks, out=y)

    forward()  # tunes (or loads the cached choice)
    rec = {"M": m, "tasks": tasks, "op_us": per_call_us(op, calls), "forward_us": per_call_us(forward, calls)}
    if m <= 64:
        kind = "bucket" if tasks > 1 else "decode"
        config = autotune._FAST[(kind, _shape_key(x, codes, pool, BITS, _m_bucket(m)))]
        launch = launch_bucket if kind == "bucket" else launch_decode
        rec["config"] = config
        rec["launcher_us"] = per_call_us(lambda: launch(x, codes, pool, slots, BITS, y, config), calls)
    ptrs = [torch.empty(16, device="cuda") for _ in range(7)]
    rec["empty_triton_us"] = per_call_us(lambda: _empty_kernel[(64, 1)](*ptrs, *range(13), 1, 2, 3, 4, 5), calls)
    rec["cublas_us"] = per_call_us(lambda: x @ w.T, calls)
    rec["profile"] = profile_top(forward, calls // 4)
    return rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    ap.add_argument("--calls", type=int, default=2000)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    codes = pack_codes(torch.randint(0, 2**BITS, (N, K), device="cuda"), BITS)
    pool = (torch.randn(16, N, 1, 2**BITS, device="cuda") * 0.02).half()
    w = (torch.randn(N, K, device="cuda") * 0.02).half()
    results = {"gpu": torch.cuda.get_device_name(), "triton": triton.__version__, "torch": torch.__version__,
               "cases": []}  # fmt: skip
    for m, tasks in CASES:
        rec = time_case(m, tasks, codes, pool, w, args.calls)
        results["cases"].append(rec)
        print(f"M={m:4d} tasks={tasks:2d}: op {rec['op_us']:6.1f} us, forward {rec['forward_us']:6.1f}, launcher "
              f"{rec.get('launcher_us', float('nan')):6.1f}, empty Triton kernel {rec['empty_triton_us']:5.1f}, "
              f"cuBLAS {rec['cublas_us']:5.1f}", flush=True)  # fmt: skip
        print(rec["profile"][:3000], flush=True)
    (args.out / "host_overhead.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
