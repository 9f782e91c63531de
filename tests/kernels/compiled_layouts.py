"""Compile a kernel for sm_90 without a GPU: how a fragment kernel's asm operands are laid out, and the PTX of any.

mma.sync reads its fragments from fixed lanes, so the fragment kernels (kernels/triton_decode_mma.py) rely on every
per-lane tensor being 1-D with element e in thread e."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_SCRIPT = r"""
import os, sys, json, importlib
os.environ.pop("TRITON_INTERPRET", None)
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
module, name, const, warps = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
k = getattr(importlib.import_module(module), name)
const = {**{p.name: p.default for p in k.params if p.is_constexpr and p.has_default}, **const}  # as a launch fills
ints = ["M", "N", "K", "GS", "stride_xm", "stride_cw", "stride_ls", "stride_ln", "stride_ym", "K_PER_SPLIT",
        "SPLIT_K"]
sig = {"x_ptr": "*fp16", "codes_ptr": "*u8", "lut_ptr": "*fp16", "slot_ptr": "*i32", "y_ptr": "*fp16",
       "ws_ptr": "*fp32", "counter_ptr": "*i32", **dict.fromkeys(ints, "i32"), **dict.fromkeys(const, "constexpr")}
div16 = ["x_ptr", "codes_ptr", "lut_ptr", "y_ptr", "ws_ptr", "counter_ptr", "N", "K", "GS", "stride_xm",
         "stride_cw", "stride_ls", "stride_ln", "stride_ym", "K_PER_SPLIT"]
attrs = {(k.arg_names.index(a),): [["tt.divisibility", 16]] for a in div16}
kern = triton.compile(ASTSource(fn=k, signature=sig, constexprs=const, attrs=attrs),
                      target=GPUTarget("cuda", 90, 32), options={"num_warps": warps, "num_stages": 1})
print(kern.asm["ttgir"])
"""


def assert_asm_in_lane_order(module: str, kernel: str, const: dict, warps: int, mma_count: int) -> None:
    """Compile kernel (module.kernel, the fragment kernels' argument list) with const for sm_90 in a child process
    and check that it holds mma_count mma.sync asm ops and that every asm op's result is one element per thread in
    lane order. Skips where no ptxas for sm_90 is installed."""
    import json

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    done = subprocess.run([sys.executable, "-c", _SCRIPT, module, kernel, json.dumps(const), str(warps)],
                          capture_output=True, text=True, cwd=root, env=env)  # fmt: skip
    if done.returncode and "ptxas" in done.stderr:
        pytest.skip("no ptxas for sm_90 here")
    assert done.returncode == 0, done.stderr[-2000:]
    layouts = {line.split(" = ", 1)[0]: line.split(" = ", 1)[1] for line in done.stdout.splitlines()
               if line.startswith("#blocked")}  # fmt: skip
    asm_ops = [line for line in done.stdout.splitlines() if "tt.elementwise_inline_asm" in line]
    assert sum("mma.sync" in line for line in asm_ops) == mma_count
    lane_order = (f"#ttg.blocked<{{sizePerThread = [1], threadsPerWarp = [32], warpsPerCTA = [{warps}], "
                  f"order = [0]}}>")  # fmt: skip
    for line in asm_ops:
        result = line.rsplit("-> ", 1)[1]
        name = result.split(", ")[-1].split(">")[0].strip()
        assert f"tensor<{32 * warps}x" in result and layouts.get(name) == lane_order, line[:200]


_PTX_SCRIPT = r"""
import os, sys, json, importlib
os.environ.pop("TRITON_INTERPRET", None)
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
module, name, sig, const, div16, warps = sys.argv[1], sys.argv[2], *map(json.loads, sys.argv[3:6]), int(sys.argv[6])
k = getattr(importlib.import_module(module), name)
const = {**{p.name: p.default for p in k.params if p.is_constexpr and p.has_default}, **const}
sig = {**sig, **dict.fromkeys(const, "constexpr")}
attrs = {(k.arg_names.index(a),): [["tt.divisibility", 16]] for a in div16}
kern = triton.compile(ASTSource(fn=k, signature=sig, constexprs=const, attrs=attrs),
                      target=GPUTarget("cuda", 90, 32), options={"num_warps": warps, "num_stages": 1})
print(kern.asm["ptx"])
"""


def compile_ptx(module: str, kernel: str, signature: dict, const: dict, warps: int = 4,
                div16: tuple[str, ...] = ()) -> str:  # fmt: skip
    """The PTX of module.kernel compiled for sm_90 in a child process (signature: every runtime argument's type,
    e.g. "*fp16" or "i32"; const: the constexprs; div16: arguments given the divisible-by-16 specialization).
    Compiling runs ptxas too: skips where none for sm_90 is installed."""
    import json

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    args = [module, kernel, json.dumps(signature), json.dumps(const), json.dumps(list(div16)), str(warps)]
    done = subprocess.run([sys.executable, "-c", _PTX_SCRIPT, *args], capture_output=True, text=True, cwd=root,
                          env=env)  # fmt: skip
    if done.returncode and "ptxas" in done.stderr:
        pytest.skip("no ptxas for sm_90 here")
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def sm90_results(script: str, payload) -> list:
    """Run script (Python; payload as JSON in sys.argv[1]) in a child process without the interpreter, from the
    repository root, and return the JSON on its last line of output: the benchmarks' sm_90 compile helpers
    (bench_kernels.sm90_compile) run there. Skips where no ptxas / cuobjdump for sm_90 is installed."""
    import json

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    done = subprocess.run([sys.executable, "-c", script, json.dumps(payload)], capture_output=True, text=True,
                          cwd=root, env=env)  # fmt: skip
    if done.returncode and ("ptxas" in done.stderr or "cuobjdump" in done.stderr):
        pytest.skip("no ptxas / cuobjdump for sm_90 here")
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# The multi-LUT linear kernels' pointer arguments (fp16 x and LUT) and integer arguments, for compile_ptx.
LINEAR_SIG = {"x_ptr": "*fp16", "codes_ptr": "*u8", "lut_ptr": "*fp16", "slot_ptr": "*i32", "y_ptr": "*fp16",
              "ws_ptr": "*fp32", "counter_ptr": "*i32"}  # fmt: skip
# triton_decode._decode_kernel's integer arguments
GATHER_INTS = ["M", "N", "K", "KP", "GS", "GPR", "stride_xm", "stride_cn", "stride_ls", "stride_ln", "stride_ym",
               "K_PER_SPLIT", "SPLIT_K"]  # fmt: skip
BUCKET_INTS = [i for i in GATHER_INTS if i != "GPR"]  # the bucket kernels (rows and cols layouts)
PDL_WAIT, PDL_RELEASE = "griddepcontrol.wait", "griddepcontrol.launch_dependents"


def linear_ptx_body(module: str, kernel: str, ints: list[str], const: dict, warps: int = 4,
                    div16: tuple[str, ...] = ("x_ptr", "codes_ptr", "lut_ptr", "y_ptr", "K", "GS")) -> str:  # fmt: skip
    """A multi-LUT linear kernel's sm_90 PTX from its .entry on (compile_ptx with LINEAR_SIG and ints as i32)."""
    ptx = compile_ptx(module, kernel, {**LINEAR_SIG, **dict.fromkeys(ints, "i32")}, const, warps, div16)
    return ptx[ptx.index(".entry"):]
