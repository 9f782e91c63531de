"""Run another benchmark script with every Triton compile logged (kernel, seconds, wall time since start, and its
constexprs): which kernels a run compiles, and when. Diagnosis only.

    python3 benchmarks/compile_log.py benchmarks/decode_host_time.py --gpr 1 --batch 16 --tasks 16
"""

from __future__ import annotations

import runpy
import sys
import time

import triton.runtime.jit as jit

START = time.perf_counter()
_do_compile = jit.JITFunction._do_compile


def logged(self, key, signature, device, constexprs, options, attrs, warmup):
    t0 = time.perf_counter()
    out = _do_compile(self, key, signature, device, constexprs, options, attrs, warmup)
    consts = {k: v for k, v in dict(constexprs).items() if not str(k).startswith("(")} if constexprs else {}
    print(f"[compile {t0 - START:8.2f} s] {self.fn.__name__}: {time.perf_counter() - t0:.2f} s {consts} {attrs}",
          flush=True)  # fmt: skip
    return out


jit.JITFunction._do_compile = logged
if __name__ == "__main__":
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
